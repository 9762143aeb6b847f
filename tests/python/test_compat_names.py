"""Every public name of atdata 0.7 resolves here at the module path 0.7 users import it from,
or is listed as not provided in docs/compat-07.md."""

from __future__ import annotations

import importlib
import json

import pytest

from conftest import REPO, run_py

#: module -> the public names 0.7 code imports from it (checked against the real 0.7 below).
PROVIDED = {
    "atdata": [
        "AbstractDataStore", "AtdataError", "BlobSource", "DataSource", "Dataset", "DatasetDict",
        "DictSample", "Index", "IndexEntry", "Lens", "LensNetwork", "LensNotFoundError",
        "LocalDiskStore", "ManifestBuilder", "ManifestField", "ManifestWriter", "Packable",
        "PackableSample", "PartialFailureError", "QueryExecutor", "Repository", "S3Source",
        "SampleBatch", "SampleKeyError", "SampleLocation", "SchemaError", "ShardError",
        "ShardManifest", "ShardWriteResult", "URLSource", "configure_logging",
        "create_repository", "generate_cid", "get_default_index", "get_logger", "lens",
        "load_dataset", "log_operation", "packable", "query_fields", "set_default_index",
        "verify_checksums", "verify_cid", "write_samples",
    ],
    "atdata.dataset": [
        "DataSource", "Dataset", "DictSample", "Lens", "LensNetwork", "LensNotFoundError",
        "Packable", "PackableSample", "PartialFailureError", "SampleBatch", "SampleKeyError",
        "URLSource", "packable", "write_samples",
    ],
    "atdata.index": ["Index", "LocalDatasetEntry"],
    "atdata.local": ["Index", "LocalDatasetEntry", "LocalDiskStore", "S3DataStore"],
    "atdata.stores": ["LocalDiskStore", "S3DataStore"],
    "atdata.providers": ["create_provider"],
    "atdata.repository": ["Repository", "create_repository"],
    "atdata.lens": ["Lens", "LensNetwork", "LensNotFoundError", "lens"],
    "atdata.manifest": [
        "ManifestBuilder", "ManifestField", "ManifestWriter", "QueryExecutor", "SampleLocation",
        "ShardManifest", "query_fields",
    ],
    "atdata.testing": ["make_dataset", "make_samples", "mock_index"],
}

#: 0.7 top-level names this package does not provide; each is named in docs/compat-07.md.
NOT_PROVIDED = [
    "AppViewError", "AppViewRequiredError", "AppViewSearchBackend", "AppViewUnavailableError",
    "LocalSearchBackend", "SearchAggregator", "SearchBackend", "SearchResult", "SearchResults",
    "atmosphere", "promote", "promote_to_atmosphere", "schema_to_type", "search",
]

#: 0.7 top-level attributes that are its submodules or its CLI entry point, not API names.
NOT_NAMES = ["cli", "dataset", "index", "lens", "main", "manifest", "repository", "stores"]


@pytest.mark.parametrize("module", sorted(PROVIDED))
def test_names_resolve_here(module):
    mod = importlib.import_module(module)
    missing = [n for n in PROVIDED[module] if not hasattr(mod, n)]
    assert not missing, f"{module} lacks {missing}"


def test_lens_is_the_decorator_and_the_module_imports():
    import atdata
    from atdata.lens import Lens

    assert callable(atdata.lens) and not isinstance(atdata.lens, type(atdata))
    assert Lens is atdata.Lens


def test_not_provided_is_documented():
    page = (REPO / "docs" / "compat-07.md").read_text()
    # Named as code (`name` or `atdata.name`), not merely as a word somewhere in the text.
    undocumented = [n for n in NOT_PROVIDED if f"`{n}`" not in page and f"`atdata.{n}`" not in page]
    assert not undocumented, f"docs/compat-07.md does not name {undocumented}"


def test_the_lists_match_the_real_07(ref_python):
    code = (
        "import importlib, json\n"
        f"mods = {sorted(PROVIDED)!r}\n"
        "out = {m: [n for n in dir(importlib.import_module(m)) if not n.startswith('_')] for m in mods}\n"
        "print(json.dumps(out))\n"
    )
    p = run_py(code, python=ref_python)
    assert p.returncode == 0, p.stderr
    theirs = json.loads(p.stdout)
    # Every name we list is 0.7's (the list is not padded with our own names).
    for module, names in PROVIDED.items():
        extra = sorted(set(names) - set(theirs[module]))
        assert not extra, f"{module}: {extra} are not 0.7 names"
    # Every public top-level 0.7 name is provided here or documented as not provided.
    top = set(theirs["atdata"]) - set(NOT_NAMES)
    unaccounted = sorted(top - set(PROVIDED["atdata"]) - set(NOT_PROVIDED))
    assert not unaccounted, f"0.7 names neither provided nor listed as not provided: {unaccounted}"
