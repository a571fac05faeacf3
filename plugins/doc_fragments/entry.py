# -*- coding: utf-8 -*-
# Copyright: (c) 2026, omniroute.opencode contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of OmniRoute's provider entry, shared by the modules that write one.

Mirrors ``_opencode.ENTRY_ARGUMENT_SPEC`` (provider, users, managed); a unit test
(tests/unit/plugins/doc_fragments/test_doc_fragments.py) holds the two equal.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  name:
    description:
      - The provider id, the key under C(provider) in OpenCode's config. OpenCode lists the
        provider's models as C(<name>/<model id>).
      - Letters, digits, C(.), C(_) and C(-), starting with a letter or a digit.
    type: str
    default: omniroute
  display_name:
    description: The provider's C(name), the label OpenCode shows for it.
    type: str
    default: OmniRoute
  base_url:
    description:
      - OmniRoute's address, as OpenCode will call it. It is normalised to end in exactly one
        C(/v1), so C(http://localhost:20128), C(http://localhost:20128/),
        C(http://localhost:20128/v1) and C(http://localhost:20128/v1///) all give
        C(http://localhost:20128/v1), and an old C(/v1/v1) is repaired.
      - Must be an C(http) or C(https) URL without user name, password, query or fragment.
    type: str
    default: http://localhost:20128
  models:
    description:
      - The model catalog, in order. An entry is a model id, or a dict with C(id) and OpenCode
        model settings such as C(name) or C(limit).
      - Ids are trimmed; empty ids and repeated ids are dropped (the first one counts).
      - Models not listed are removed from the entry. Settings added by hand to a listed model
        (a C(limit), for one) are kept.
      - With O(catalog=static) it defaults to the four models of OmniRoute's documented OpenCode
        defaults, C(claude-opus-4-5-thinking), C(claude-sonnet-4-5-thinking),
        C(gemini-3.1-pro-high) and C(gemini-3-flash).
      - With O(catalog=gateway) it defaults to nothing. Ids given here are pinned. They come
        first, in their order, followed by what the gateway offers. An id the gateway does not
        list (such as C(auto), which OmniRoute 3.7.9 does not list) is kept as given, and a
        dict's settings override the gateway's for its id.
    type: list
    elements: raw
  model_labels:
    description:
      - Display names by model id. A label wins over the C(name) of a model's dict in O(models);
        a model with neither is shown by its id.
    type: dict
    default: {}
  model:
    description:
      - Make this catalog model OpenCode's default model, written top-level as C(<name>/<id>).
      - The id must be in the catalog; it may be given with or without the C(<name>/) prefix.
    type: str
  small_model:
    description:
      - Make this catalog model OpenCode's small model (used for light tasks such as session
        titles), written top-level as C(<name>/<id>).
      - The id must be in the catalog; it may be given with or without the C(<name>/) prefix.
    type: str
"""
