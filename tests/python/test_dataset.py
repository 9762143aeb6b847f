"""Datasets: load_dataset, ordered/shuffled batches, len, head, as_type, DictSample, errors."""

from __future__ import annotations

import numpy as np
import pytest

import atdata

from conftest import EmbeddingSample, TextSample, embedding_samples, text_samples


@pytest.fixture
def loaded(index):
    index.write(text_samples(500), name="docs-v1", maxcount=250)
    index.write(embedding_samples(300), name="embeddings-v1", maxcount=150)
    atdata.set_default_index(index)
    return index


def test_load_by_name_with_and_without_split(loaded):
    ds = atdata.load_dataset("@local/docs-v1", split="train")
    assert isinstance(ds, atdata.Dataset)
    assert ds.sample_type.__name__ == "TextSample"
    assert len(ds) == 500 and ds.len() == 500
    dd = atdata.load_dataset("@local/docs-v1")
    assert isinstance(dd, atdata.DatasetDict) and list(dd) == ["train"]
    with pytest.raises(
        atdata.NotFoundError,
        match="split 'test' of dataset '@local/docs-v1'; available splits: train",
    ):
        atdata.load_dataset("@local/docs-v1", split="test")
    explicit = atdata.load_dataset("@local/docs-v1", TextSample, split="train", index=loaded)
    assert explicit.sample_type is TextSample
    assert explicit.head(1)[0] == text_samples(1)[0]


def test_seed_batches(loaded):
    ds = atdata.load_dataset("@local/docs-v1", split="train")
    batch = next(iter(ds.ordered(batch_size=10)))
    assert isinstance(batch, atdata.SampleBatch) and len(batch) == 10
    assert batch.text[:2] == ["Document number 0 about topic 0.", "Document number 1 about topic 1."]
    assert batch.language[:5] == ["es", "en", "en", "es", "en"]
    assert batch.word_count[:5] == [6, 6, 6, 6, 6]
    emb = atdata.load_dataset("@local/embeddings-v1", split="train")
    b = next(iter(emb.ordered(batch_size=8)))
    assert isinstance(b.vector, np.ndarray)
    assert b.vector.shape == (8, 128) and b.vector.dtype == np.float32
    assert b.label == [f"class_{i}" for i in range(8)]
    want = embedding_samples(8)
    assert np.array_equal(b.vector[3], want[3].vector)
    assert type(b[3]).__name__ == "EmbeddingSample" and b[3].label == "class_3"
    assert np.array_equal(b.samples[3].vector, want[3].vector)
    typed = next(iter(emb.as_type(EmbeddingSample).ordered(batch_size=8)))
    assert typed.samples[3] == want[3] and typed[3] == want[3]
    with pytest.raises(AttributeError, match="nope"):
        b.nope


def test_iteration_order_and_counts(loaded):
    ds = atdata.load_dataset("@local/docs-v1", split="train")
    assert [s.as_dict() for s in ds] == [s.as_dict() for s in text_samples(500)]
    assert ds.as_type(TextSample).head(3) == text_samples(3)
    sizes = [len(b) for b in ds.ordered(batch_size=64)]
    assert sum(sizes) == 500 and sizes[-1] == 500 % 64
    with pytest.raises(ValueError):
        ds.ordered(batch_size=0)
    with pytest.raises(ValueError):
        list(ds.ordered(batch_size=-1))


def test_shuffled_is_seeded_and_complete(loaded):
    ds = atdata.load_dataset("@local/docs-v1", split="train")
    a = [s.text for s in ds.shuffled(seed=1)]
    b = [s.text for s in ds.shuffled(seed=1)]
    c = [s.text for s in ds.shuffled(seed=2)]
    d = [s.text for s in ds.shuffled(seed=1, epoch=1)]
    assert a == b and a != c and a != d
    assert sorted(a) == sorted(s.text for s in text_samples(500))
    assert a != [s.text for s in text_samples(500)]
    batches = list(ds.shuffled(batch_size=100, seed=3, buffer_samples=50))
    assert sum(len(x) for x in batches) == 500
    assert len(list(ds.shuffled())) == 500


def test_as_type_and_dict_samples(loaded, tmp_path_factory):
    # (A folder without a split word: "test_..." would make these shards the test split.)
    tmp_path = tmp_path_factory.mktemp("plain")
    @atdata.packable
    class JustText:
        text: str

    ds = atdata.load_dataset("@local/docs-v1", split="train").as_type(JustText)
    first = next(iter(ds))
    assert first == JustText(text="Document number 0 about topic 0.")

    @atdata.packable
    class Wrong:
        missing: int

    with pytest.raises(atdata.SchemaMismatchError, match="missing"):
        atdata.load_dataset("@local/docs-v1", split="train").as_type(Wrong)
    # The core's rule and message: the missing required fields, then the data's fields.
    with pytest.raises(atdata.SchemaMismatchError) as ei:
        atdata.load_dataset("@local/docs-v1", split="train").as_type(Wrong)
    assert ei.value.dataset == "@local/docs-v1"
    assert (
        "cannot read TextSample as Wrong: the data has no field(s) ['missing']; "
        "it has ['language', 'text', 'word_count']"
    ) in str(ei.value)

    # Shards without a schema read as DictSample.
    paths = atdata.write_samples(text_samples(20), tmp_path / "plain.tar").urls
    dd = atdata.load_dataset(paths[0])
    assert list(dd) == ["train"]
    raw = dd["train"]
    s = raw.head(1)[0]
    assert isinstance(s, atdata.DictSample)
    assert s.text == s["text"] == "Document number 0 about topic 0."
    assert "text" in s and s.keys() == ["text", "language", "word_count"]
    assert s.to_dict()["word_count"] == 6 and s.get("nope", 1) == 1
    with pytest.raises(AttributeError):
        s.nope
    b = next(iter(raw.ordered(batch_size=5)))
    assert b.word_count == [6] * 5 and isinstance(b[0], atdata.DictSample)
    typed = raw.as_type(TextSample)
    assert list(typed) == text_samples(20)
    assert repr(s).startswith("DictSample(")


def test_load_path_splits(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("splits")
    atdata.write_samples(text_samples(10), tmp_path / "train-000000.tar")
    atdata.write_samples(text_samples(4), tmp_path / "test-000000.tar")
    dd = atdata.load_dataset(str(tmp_path), TextSample)
    assert sorted(dd) == ["test", "train"]
    assert len(dd["test"]) == 4
    ds = atdata.load_dataset(str(tmp_path), TextSample, split="train")
    assert len(list(ds)) == 10
    with pytest.raises(
        atdata.NotFoundError, match="split 'validation' of dataset .*available splits: test, train"
    ):
        atdata.load_dataset(str(tmp_path), split="validation")
    with pytest.raises((atdata.NotFoundError, atdata.AtdataIOError, atdata.InvalidArgumentError)):
        atdata.load_dataset(str(tmp_path / "nothing-*.tar"), split="train")


def test_a_parent_folder_named_like_a_split_is_not_a_split(tmp_path_factory):
    parent = tmp_path_factory.mktemp("test_run")
    atdata.write_samples(text_samples(3), parent / "data-000000.tar")
    assert list(atdata.load_dataset(str(parent), TextSample)) == ["train"]


def test_typed_dataset_from_path(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("typed")
    atdata.write_samples(embedding_samples(7), tmp_path / "e.tar")
    ds = atdata.Dataset[EmbeddingSample](str(tmp_path / "e.tar"))
    assert ds.sample_type is EmbeddingSample and len(ds) == 7
    assert next(iter(ds.ordered(batch_size=7))).vector.shape == (7, 128)
    parts = [ds.part(i, 1) for i in range(1)]
    assert len(list(parts[0])) == 7
    with pytest.raises(TypeError):
        atdata.Dataset(42)


def test_corrupt_shard_error_says_which_shard_and_offset(index):
    e = index.write(text_samples(100), name="docs", maxcount=50)
    path = e.data_urls[1]
    data = bytearray(open(path, "rb").read())
    # Damage the msgpack body of the third member (tar header 512 + body padded to 512).
    data[3 * 1024 + 512 + 1] = 0xC1  # 0xC1 is never valid msgpack
    open(path, "wb").write(bytes(data))
    ds = index.load("docs")
    with pytest.raises(atdata.CorruptDataError) as ei:
        for _ in ds.ordered(batch_size=16):
            pass
    err = ei.value
    assert err.shard == path and err.offset is not None
    assert path in str(err) and "byte offset" in str(err)
    assert isinstance(err, ValueError)


def test_every_sample_before_a_corrupt_shard_reaches_the_user(index):
    # 600 good samples, then a shard whose first sample is corrupt: 0.7 (and WebDataset)
    # deliver the 600, then raise. We used to lose the rows of the unfinished batch.
    e = index.write(text_samples(700), name="docs", maxcount=100)
    path = e.data_urls[6]
    data = bytearray(open(path, "rb").read())
    data[512] = 0xC1
    open(path, "wb").write(bytes(data))
    ds = index.load("docs")
    seen = []
    with pytest.raises(atdata.CorruptDataError) as ei:
        for s in ds:
            seen.append(s.text)
    assert seen == [s.text for s in text_samples(600)]
    assert ei.value.shard == path
    rows = 0
    with pytest.raises(atdata.CorruptDataError):
        for b in ds.ordered(batch_size=512):
            rows += len(b)
    assert rows == 600


def test_truncated_shard(index):
    e = index.write(text_samples(50), name="docs")
    path = e.data_urls[0]
    data = open(path, "rb").read()
    open(path, "wb").write(data[:1500])
    with pytest.raises(atdata.AtdataError) as ei:
        list(index.load("docs"))
    assert path in str(ei.value)


def test_exception_hierarchy():
    assert issubclass(atdata.NotFoundError, atdata.AtdataError)
    assert issubclass(atdata.NotFoundError, KeyError)
    for cls in (atdata.SchemaMismatchError, atdata.CorruptDataError, atdata.InvalidArgumentError):
        assert issubclass(cls, ValueError) and issubclass(cls, atdata.AtdataError)
    assert issubclass(atdata.AtdataIOError, OSError)
    assert atdata.ConflictError.retryable is True
    assert atdata.NotFoundError.retryable is False
    assert str(atdata.NotFoundError("plain")) == "plain"
    assert atdata.AtdataError.__module__ == "atdata"
