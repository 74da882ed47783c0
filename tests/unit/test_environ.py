import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sio.workers import environ as envmod
from sio.workers.environ import EnvironError

# Strings without lone surrogates (they are not valid Unicode, see below).
text = st.text(st.characters(blacklist_categories=('Cs',)))
scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | text)
json_values = st.recursive(
    scalars, lambda children: st.lists(children) | st.dictionaries(text, children), max_leaves=40)
environs = st.dictionaries(text, json_values)


@settings(max_examples=300, deadline=None)
@given(environs)
def test_every_valid_environ_round_trips_exactly_through_both_codecs(environ):
    envmod.validate(environ)
    for decoded in (envmod.from_json(envmod.to_json(environ)),
                    envmod.unpack(envmod.pack(environ))):
        assert decoded == environ
        assert _types(decoded) == _types(environ)  # 1 stays int, 1.0 stays float


def _types(value):
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)


@settings(max_examples=200, deadline=None)
@given(environs, st.sampled_from([b'x', (1, 2), {1, 2}, object(), math.nan, 2**70]))
def test_an_invalid_value_anywhere_is_named_by_its_key_path(environ, bad):
    environ = dict(environ)
    environ['outer'] = {'inner': [0, bad]}
    with pytest.raises(EnvironError) as info:
        envmod.validate(environ)
    assert info.value.path == "environ['outer']['inner'][1]"


def test_error_message_names_key_and_type():
    with pytest.raises(EnvironError, match=r"^environ\['extra_files'\]\['a.h'\]: bytes is not JSON-compatible$"):
        envmod.validate({'job_type': 'compile', 'extra_files': {'a.h': b'#define X'}})


@pytest.mark.parametrize('environ, message', [
    ([1], 'environ: must be a dict, not list'),
    ({1: 'x'}, "environ: key 1 is int, not str"),
    ({'a': {'b': {2.5: 1}}}, "environ['a']['b']: key 2.5 is float, not str"),
    ({'t': (1, 2)}, "environ['t']: tuple is not JSON-compatible"),
    ({'f': float('inf')}, "environ['f']: float inf is not JSON-compatible"),
    ({'i': -(2**63) - 1}, "environ['i']: int -9223372036854775809 is out of the 64-bit range"),
    ({'s': 'a\udc80'}, "environ['s']: str is not valid Unicode (lone surrogate)"),
])
def test_validation_errors(environ, message):
    with pytest.raises(EnvironError) as info:
        envmod.validate(environ)
    assert str(info.value) == message


def test_hostile_nesting_is_rejected_cleanly():
    deep = current = {}
    for _ in range(10000):
        current['x'] = {}
        current = current['x']
    with pytest.raises(EnvironError, match='nested deeper than'):
        envmod.validate(deep)


def test_normalize_turns_bytes_into_text_and_tuples_into_lists():
    out = envmod.normalize({'stdout': [b'ok', b'\xff'], 'pct': (1, 2), 'n': None})
    assert out == {'stdout': ['ok', '\ufffd'], 'pct': [1, 2], 'n': None}
    with pytest.raises(EnvironError, match=r"environ\['s'\]: set is not JSON-compatible"):
        envmod.normalize({'s': {1}})


def test_from_json_accepts_double_encoded_json_and_rejects_non_objects():
    assert envmod.from_json('"{\\"job_type\\": \\"ping\\"}"') == {'job_type': 'ping'}
    with pytest.raises(EnvironError, match='invalid JSON'):
        envmod.from_json('{"job_type": ')
    with pytest.raises(EnvironError, match='must be a dict, not list'):
        envmod.from_json('[1, 2]')
    with pytest.raises(EnvironError, match=r"environ\['x'\]: float nan is not JSON-compatible"):
        envmod.from_json('{"x": NaN}')


def test_unpack_rejects_garbage_and_binary():
    with pytest.raises(EnvironError, match='invalid msgpack'):
        envmod.unpack(b'\xc1')
    import msgpack
    with pytest.raises(EnvironError, match=r"environ\['b'\]: bytes"):
        envmod.unpack(msgpack.packb({'b': b'raw'}, use_bin_type=True))
