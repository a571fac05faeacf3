# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the model catalog from the gateway, shared by provider, users and managed.

Mirrors ``_gateway.CATALOG_ARGUMENT_SPEC`` without ``verify`` (see the ``verify`` fragment, which
managed does not use); a unit test (tests/unit/plugins/doc_fragments/test_doc_fragments.py)
holds the two equal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  catalog:
    description:
      - Where the model catalog comes from.
      - V(static) writes O(models).
      - V(gateway) asks C(GET <base_url>/models) from the host the module runs on, the network
        path OpenCode takes, with the key OpenCode will send for this config. In
        M(omniroute.opencode.users) that is each user's key, sent by the process running as that
        user. M(omniroute.opencode.managed), whose file holds no key, sends
        O(omniroute.opencode.managed#module:catalog_key) instead.
      - The catalog is then every chat model offered to that key (models whose C(type) is audio,
        image, embedding, moderation or any other non-chat type are left out), filtered by
        O(catalog_include) and O(catalog_exclude), sorted by id, after the ids pinned in
        O(models). The gateway still decides what each key may use.
      - Each gateway model gets OpenCode settings from its metadata. C(limit.context) and
        C(limit.output) come from C(context_length) and C(max_output_tokens), and are written
        only as a pair, because OpenCode refuses a C(limit) with one of them missing. A model
        with only one of the two (an OmniRoute combo, for one) gets no C(limit).
        C(tool_call) comes from C(capabilities.tool_calling), and C(reasoning) from
        C(capabilities.reasoning) or C(capabilities.thinking). C(attachment) comes from
        C(capabilities.vision) or an C(image)/C(pdf) input. C(modalities.input) and
        C(modalities.output) come from C(input_modalities)/C(output_modalities), keeping only
        what OpenCode accepts (text, audio, image, video, pdf).
      - A C({file:...}) key is read on the host the way OpenCode reads it (C(~/) is the home
        directory, a relative path is relative to the config file's directory). A C({env:VAR})
        key is taken from the environment the module runs in (in M(omniroute.opencode.users),
        the user's process) when VAR is set there. Otherwise the catalog cannot be fetched,
        which is handled as O(catalog_offline) says.
      - A key the gateway rejects (HTTP 401 or 403) fails the task and leaves every file
        untouched. So does any other answer that is not a model list (a 404 at a wrong address,
        for one).
    type: str
    choices: [static, gateway]
    default: static
  catalog_include:
    description:
      - With O(catalog=gateway), keep only gateway models whose id matches one of these shell
        globs (C(fnmatch), case-sensitive), for example V(openai/gpt-4*). Empty keeps all.
      - Ids pinned in O(models) are kept whatever the globs say.
    type: list
    elements: str
    default: []
  catalog_exclude:
    description:
      - With O(catalog=gateway), drop gateway models whose id matches one of these globs (as in
        O(catalog_include)). A model matched by both lists is dropped.
      - Ids pinned in O(models) are kept whatever the globs say.
    type: list
    elements: str
    default: []
  catalog_offline:
    description:
      - What to do when O(catalog=gateway) cannot ask the gateway. That is the case when it is
        unreachable, does not answer within O(timeout), answers with a 5xx, or when the module
        cannot see the key.
      - V(keep) keeps the entry's current catalog byte for byte and warns, naming the host, the
        user where there is one, the URL and the cause. When the entry has no catalog yet, the
        ids in O(models) are written (and the task fails when O(models) is empty).
      - V(fail) fails the task and leaves every file untouched.
    type: str
    choices: [keep, fail]
    default: keep
  validate_certs:
    description:
      - Verify the gateway's TLS certificate on every request the module makes to it (the
        catalog of O(catalog=gateway), and the C(verify) probe in the modules that have one).
        Turn it off only for a gateway with a self-signed certificate you trust.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the gateway's answer, per request (the catalog of
        O(catalog=gateway), and the C(verify) probe in the modules that have one).
    type: int
    default: 10
"""
