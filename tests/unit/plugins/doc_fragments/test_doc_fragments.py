# -*- coding: utf-8 -*-
"""The documentation of the modules' options is held equal to their argument specs.

The options the modules share are documented once, in ``plugins/doc_fragments`` (entry, catalog,
verify), and each fragment must say exactly what the shared argument spec accepts: the same
option names, types, defaults, choices, elements and required flags. Every module that takes the
shared options takes its docs from the fragment instead of a copy of its own, and the options a
module documents (its own plus the fragments') are exactly its argument spec. ansible-test's
validate-modules checks the last point too, but only in `make test-sanity`; this runs in
`make check`.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import importlib.util
import os
import re

import ansible
import pytest
import yaml
from ansible.module_utils.basic import FILE_COMMON_ARGUMENTS

from ansible_collections.omniroute.opencode.plugins.module_utils import _gateway as gw
from ansible_collections.omniroute.opencode.plugins.module_utils import _opencode as oc
from ansible_collections.omniroute.opencode.plugins.module_utils import _users as us
from ansible_collections.omniroute.opencode.plugins.modules import api_key, managed, provider, user_info, users

COLLECTION = 'omniroute.opencode.'
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULES = {'provider': provider, 'users': users, 'managed': managed, 'api_key': api_key, 'user_info': user_info}
# The modules built on an ARGUMENT_SPEC constant (the others define theirs inside main()).
SPEC_MODULES = ('provider', 'users', 'managed')
VERIFY = dict((k, v) for k, v in gw.CATALOG_ARGUMENT_SPEC.items() if k == 'verify')
CATALOG = dict((k, v) for k, v in gw.CATALOG_ARGUMENT_SPEC.items() if k != 'verify')
# Fragment -> the shared argument spec it documents.
FRAGMENTS = {
    'entry': oc.ENTRY_ARGUMENT_SPEC,
    'catalog': CATALOG,
    'verify': VERIFY,
    'host': us.HOST_ARGUMENT_SPEC,
}


def fragment(slug):
    """The YAML of a fragment of this collection: ``entry`` or ``attributes.controller``."""
    name, _dot, attr = slug.partition('.')
    mod = importlib.import_module('ansible_collections.omniroute.opencode.plugins.doc_fragments.' + name)
    return yaml.safe_load(getattr(mod.ModuleDocFragment, (attr or 'documentation').upper()))


def documentation(module):
    return yaml.safe_load(module.DOCUMENTATION)


def own_fragments(doc):
    """The slugs of this collection's fragments a module extends (``omniroute.opencode.x``)."""
    return [f[len(COLLECTION):] for f in doc.get('extends_documentation_fragment') or [] if f.startswith(COLLECTION)]


def any_fragment(slug):
    """The YAML of any fragment a module names: this collection's, or ansible-core's
    (``ansible.builtin.files``, or the short ``action_common_attributes.files``)."""
    if slug.startswith(COLLECTION):
        return fragment(slug[len(COLLECTION):])
    name, _dot, attr = slug[len('ansible.builtin.'):].partition('.') if slug.startswith('ansible.builtin.') \
        else slug.partition('.')
    # Loaded from its file: importing the ansible.plugins package would load controller code,
    # which the oldest target Python of the unit test matrix cannot import.
    path = os.path.join(os.path.dirname(ansible.__file__), 'plugins', 'doc_fragments', name + '.py')
    spec = importlib.util.spec_from_file_location('ansible_doc_fragment_' + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return yaml.safe_load(getattr(mod.ModuleDocFragment, (attr or 'documentation').upper()))


def merged(module, section):
    """``options`` or ``attributes`` of a module as ansible-doc merges them
    (ansible.utils.plugin_docs.add_fragments): the module's own entry wins, then the fragments in
    the order they are listed, key by key within an entry."""
    doc = documentation(module)
    result = dict((k, dict(v)) for k, v in (doc.get(section) or {}).items())
    for slug in doc.get('extends_documentation_fragment') or []:
        for key, value in (any_fragment(slug).get(section) or {}).items():
            result[key] = dict(value, **result.get(key, {}))
    return result


def documented_options(module):
    return merged(module, 'options')


def view(options, nested):
    """Option name -> what it accepts, from docs (``nested='suboptions'``) or from an argument
    spec (``nested='options'``), in one shape so the two can be compared."""
    return dict((name, dict(type=opt.get('type', 'str'), default=opt.get('default'), choices=opt.get('choices'),
                            elements=opt.get('elements'), required=bool(opt.get('required', False)),
                            aliases=sorted(opt.get('aliases') or []), options=view(opt.get(nested), nested)))
                for name, opt in (options or {}).items())


def doc_view(options):
    return view(options, 'suboptions')


def spec_view(spec):
    return view(spec, 'options')


def differences(doc, spec):
    """Readable differences between two views (empty when they agree)."""
    out = []
    for name in sorted(set(doc) | set(spec)):
        if name not in spec:
            out.append('%s is documented but not in the argument spec' % name)
        elif name not in doc:
            out.append('%s is in the argument spec but not documented' % name)
        else:
            for field in ('type', 'default', 'choices', 'elements', 'required', 'aliases'):
                if doc[name][field] != spec[name][field]:
                    out.append('%s: %s is %r in the docs, %r in the spec' % (name, field, doc[name][field], spec[name][field]))
            out.extend('%s.%s' % (name, d) for d in differences(doc[name]['options'], spec[name]['options']))
    return out


@pytest.mark.parametrize('slug', sorted(FRAGMENTS))
def test_each_fragment_equals_its_shared_argument_spec(slug):
    assert differences(doc_view(fragment(slug)['options']), spec_view(FRAGMENTS[slug])) == []


def test_the_catalog_and_verify_fragments_cover_the_whole_catalog_spec():
    """An option added to CATALOG_ARGUMENT_SPEC must be documented in one of the two."""
    documented = set(fragment('catalog')['options']) | set(fragment('verify')['options'])
    assert documented == set(gw.CATALOG_ARGUMENT_SPEC)


def module_spec(module):
    """The module's ARGUMENT_SPEC, with the file options (mode, owner...) of add_file_common_args
    when its docs extend ansible.builtin.files (AnsibleModule adds them to the spec itself)."""
    spec = dict(module.ARGUMENT_SPEC)
    if 'ansible.builtin.files' in documentation(module).get('extends_documentation_fragment', []):
        spec.update(FILE_COMMON_ARGUMENTS)
    return spec


@pytest.mark.parametrize('name', SPEC_MODULES)
def test_module_docs_equal_the_module_argument_spec(name):
    module = MODULES[name]
    assert differences(doc_view(documented_options(module)), spec_view(module_spec(module))) == []


@pytest.mark.parametrize('name', SPEC_MODULES)
def test_shared_options_are_documented_only_by_their_fragment(name):
    """A module that takes a shared option set extends its fragment and keeps no copy of it."""
    module = MODULES[name]
    doc = documentation(module)
    for slug, spec in FRAGMENTS.items():
        if set(spec) <= set(module_spec(module)):
            assert slug in own_fragments(doc), '%s takes the %s options but does not extend %s%s' % (
                name, slug, COLLECTION, slug)
            copies = sorted(set(spec) & set(doc.get('options') or {}))
            assert copies == [], '%s documents %s itself instead of through the %s fragment' % (name, copies, slug)
        else:
            assert slug not in own_fragments(doc), '%s extends %s but does not take all its options' % (name, slug)


@pytest.mark.parametrize('name', sorted(MODULES))
def test_every_module_documents_the_common_attributes(name):
    doc = documentation(MODULES[name])
    assert 'ansible.builtin.action_common_attributes' in doc['extends_documentation_fragment']
    attributes = merged(MODULES[name], 'attributes')
    for attribute in ('check_mode', 'diff_mode', 'platform'):
        assert attribute in attributes, '%s does not document %s' % (name, attribute)
        assert attributes[attribute].get('support') in ('full', 'partial', 'none'), (name, attribute)
        assert attributes[attribute].get('description'), (name, attribute)


def test_the_action_group_holds_the_modules_that_share_options():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        group = yaml.safe_load(handle)['action_groups']['opencode']
    sharing = sorted(n for n in SPEC_MODULES if set(oc.ENTRY_ARGUMENT_SPEC) <= set(MODULES[n].ARGUMENT_SPEC))
    assert sorted(group) == sharing == ['managed', 'provider', 'users']
    for name in sorted(MODULES):
        attribute = merged(MODULES[name], 'attributes').get('action_group')
        if name in group:
            assert attribute['membership'] == [COLLECTION + 'opencode'], name
            assert attribute['support'] == 'full' and attribute['description'], name
        else:
            assert attribute is None, name


def test_plugins_speak_the_users_words():
    """Docs, messages and comments name OmniRoute's guide, never "the seed" (the project's own
    folder name for it, which users do not know)."""
    found = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, 'plugins')):
        for name in files:
            if name.endswith(('.py', '.yml')):
                with open(os.path.join(folder, name)) as handle:
                    for number, line in enumerate(handle, 1):
                        if re.search(r'\bseed', line, re.I):
                            found.append('%s:%d' % (os.path.relpath(os.path.join(folder, name), ROOT), number))
    assert found == []
