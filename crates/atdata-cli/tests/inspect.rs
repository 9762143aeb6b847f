//! `atdata inspect` on shards written by the core writer, on damaged shards and on the
//! Python 0.7 fixtures.

mod common;

use atdata::shard::read_shard_bytes;
use common::{atdata, flip_byte, py07_fixtures, write_dataset};
use serde_json::Value as Json;

#[test]
fn json_reports_shards_counts_and_field_types() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_dataset(dir.path(), 10, 4);
    assert_eq!(shards.len(), 3);

    let run = atdata(&["inspect", dir.path().to_str().unwrap(), "--json"]);
    assert!(run.ok(), "{run:?}");
    let j = run.json();

    let listed: Vec<&str> = j["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let written: Vec<String> = shards
        .iter()
        .map(|s| s.path.display().to_string())
        .collect();
    assert_eq!(listed, written);
    assert_eq!(j["samples"], 10);

    assert_eq!(j["fields"]["text"], "str");
    assert_eq!(j["fields"]["label"], "int");
    assert_eq!(j["fields"]["note"], "str | None");
    assert_eq!(j["fields"]["vector"], "ndarray[float32]");

    let details = j["field_details"].as_array().unwrap();
    let names: Vec<&str> = details
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["text", "label", "note", "vector"],
        "in written order"
    );
    let vector = &details[3];
    assert_eq!(vector["dtype"], "<f4");
    assert_eq!(vector["shape"], serde_json::json!([4]));
    assert_eq!(details[2]["optional"], true);
    assert_eq!(details[0]["optional"], false);

    let stats = j["shard_stats"].as_array().unwrap();
    let counts: Vec<u64> = stats
        .iter()
        .map(|s| s["samples"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [4, 4, 2]);
    for (stat, shard) in stats.iter().zip(&shards) {
        assert_eq!(stat["bytes"].as_u64().unwrap(), shard.bytes);
        assert_eq!(stat["path"].as_str().unwrap(), shard.path.to_str().unwrap());
    }
    let total: u64 = shards.iter().map(|s| s.bytes).sum();
    assert_eq!(j["bytes"].as_u64().unwrap(), total);
}

#[test]
fn human_output_summarises() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 5, 10);
    let run = atdata(&["inspect", dir.path().to_str().unwrap()]);
    assert!(run.ok(), "{run:?}");
    assert!(run.stdout.contains("shards   1"), "{run:?}");
    assert!(run.stdout.contains("samples  5"), "{run:?}");
    assert!(run.stdout.contains("ndarray[float32]"), "{run:?}");
    assert!(run.stdout.contains("shape (4,)"), "{run:?}");
    assert!(run.stdout.contains("str | None"), "{run:?}");
    assert!(
        run.stderr.is_empty(),
        "no progress bar off a terminal: {run:?}"
    );
}

#[test]
fn brace_pattern_glob_and_directory_agree() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 7, 3);
    let d = dir.path().to_str().unwrap();
    let by_dir = atdata(&["inspect", d, "--json"]).json();
    let braces = format!("{d}/data-{{000000..000002}}.tar");
    let by_braces = atdata(&["inspect", &braces, "--json"]).json();
    let glob = format!("{d}/*.tar");
    let by_glob = atdata(&["inspect", &glob, "--json"]).json();
    for j in [&by_braces, &by_glob] {
        assert_eq!(j["shards"], by_dir["shards"]);
        assert_eq!(j["samples"], 7);
        assert_eq!(j["fields"], by_dir["fields"]);
    }
}

#[test]
fn missing_target_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.tar");
    let run = atdata(&["inspect", missing.to_str().unwrap()]);
    assert!(!run.ok(), "{run:?}");
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("nope.tar"), "{run:?}");
    assert!(run.stderr.starts_with("error: "), "{run:?}");
}

#[test]
fn empty_directory_fails() {
    let dir = tempfile::tempdir().unwrap();
    let run = atdata(&["inspect", dir.path().to_str().unwrap()]);
    assert!(!run.ok(), "{run:?}");
    assert!(run.stderr.contains("no .tar shard"), "{run:?}");
}

#[test]
fn damaged_tar_header_names_shard_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_dataset(dir.path(), 6, 6);
    let path = &shards[0].path;
    let samples = read_shard_bytes(&std::fs::read(path).unwrap(), "x").unwrap();
    let third = samples[2].offset;
    assert!(third > 0);
    flip_byte(path, third as usize + 5); // inside the member name: checksum no longer matches

    let run = atdata(&["inspect", path.to_str().unwrap(), "--json"]);
    assert!(!run.ok(), "{run:?}");
    assert!(run.stdout.is_empty(), "no partial report: {run:?}");
    assert!(
        run.stderr.contains(path.to_str().unwrap()),
        "names the shard: {run:?}"
    );
    assert!(
        run.stderr.contains(&format!("byte offset {third}")),
        "names the offset: {run:?}"
    );
}

#[test]
fn damaged_sample_names_shard_offset_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_dataset(dir.path(), 3, 3);
    let path = &shards[0].path;
    let samples = read_shard_bytes(&std::fs::read(path).unwrap(), "x").unwrap();
    let second = &samples[1];
    // The first data byte is the msgpack map header; a fixint there is not a sample.
    flip_byte(path, second.offset as usize + 512);

    let run = atdata(&["inspect", path.to_str().unwrap()]);
    assert!(!run.ok(), "{run:?}");
    assert!(run.stderr.contains(path.to_str().unwrap()), "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("byte offset {}", second.offset)),
        "{run:?}"
    );
    assert!(run.stderr.contains(&second.key), "names the key: {run:?}");
}

#[test]
fn every_damaged_shard_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_dataset(dir.path(), 9, 3);
    flip_byte(&shards[0].path, 3);
    flip_byte(&shards[2].path, 3);
    let run = atdata(&["inspect", dir.path().to_str().unwrap()]);
    assert!(!run.ok(), "{run:?}");
    assert!(
        run.stderr.contains(shards[0].path.to_str().unwrap()),
        "{run:?}"
    );
    assert!(
        run.stderr.contains(shards[2].path.to_str().unwrap()),
        "{run:?}"
    );
    assert!(
        !run.stderr.contains(shards[1].path.to_str().unwrap()),
        "{run:?}"
    );
    assert!(run.stderr.contains("2 of 3 shards"), "{run:?}");
}

#[test]
fn truncated_shard_fails() {
    let dir = tempfile::tempdir().unwrap();
    let shards = write_dataset(dir.path(), 4, 4);
    let path = &shards[0].path;
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..1000]).unwrap();
    let run = atdata(&["inspect", path.to_str().unwrap()]);
    assert!(!run.ok(), "{run:?}");
    assert!(run.stderr.contains(path.to_str().unwrap()), "{run:?}");
    assert!(run.stderr.contains("byte offset"), "{run:?}");
}

/// What a schema field type of the Python fixtures looks like in our inferred type string.
fn expected_type(field_type: &Json) -> String {
    let kind = field_type["$type"].as_str().unwrap_or("");
    match kind.rsplit('#').next().unwrap_or("") {
        "primitive" => field_type["primitive"].as_str().unwrap().to_string(),
        "ndarray" => "ndarray".to_string(),
        "array" => format!("list[{}]", expected_type(&field_type["items"])),
        other => other.to_string(),
    }
}

#[test]
fn python_07_fixture_shards() {
    let Some(root) = py07_fixtures() else {
        eprintln!("skipped: crates/atdata/tests/fixtures/py07 has not been generated");
        return;
    };
    let expected: Json =
        serde_json::from_str(&std::fs::read_to_string(root.join("expected.json")).unwrap())
            .unwrap();
    let datasets = expected["datasets"].as_object().unwrap();
    assert!(!datasets.is_empty());
    for (name, ds) in datasets {
        let shards: Vec<String> = ds["shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| root.join(s.as_str().unwrap()).display().to_string())
            .collect();
        let target = if shards.len() == 1 {
            shards[0].clone()
        } else {
            format!("{{{}}}", shards.join(","))
        };
        let run = atdata(&["inspect", &target, "--json"]);
        assert!(run.ok(), "{name}: {run:?}");
        let j = run.json();
        assert_eq!(j["samples"], ds["count"], "{name}");
        assert_eq!(
            j["shards"].as_array().unwrap().len(),
            shards.len(),
            "{name}"
        );

        let details = j["field_details"].as_array().unwrap();
        let fields = ds["fields"].as_array().unwrap();
        assert_eq!(details.len(), fields.len(), "{name}: {j}");
        for (got, want) in details.iter().zip(fields) {
            assert_eq!(got["name"], want["name"], "{name}");
            let ty = got["type"].as_str().unwrap();
            let base = ty.strip_suffix(" | None").unwrap_or(ty);
            let want_ty = expected_type(&want["fieldType"]);
            if want["optional"] == true && base == "None" {
                continue; // every sample held None: nothing more to infer
            }
            assert!(
                base == want_ty || (want_ty == "ndarray" && base.starts_with("ndarray[")),
                "{name}.{}: inferred {ty}, schema says {want_ty}",
                want["name"]
            );
        }
    }
}

#[test]
fn inspect_of_an_unsupported_url_scheme_names_the_scheme_and_the_url() {
    for url in [
        "s3://bucket/ds/data-000000.tar",
        "https://host/x-{0..1}.tar",
    ] {
        let run = atdata(&["inspect", url]);
        assert_eq!(run.code, Some(1), "{run:?}");
        let scheme = url.split("://").next().unwrap();
        assert!(
            run.stderr
                .contains(&format!("unsupported URL scheme '{scheme}'")),
            "{run:?}"
        );
        assert!(run.stderr.contains(url), "{run:?}");
        assert!(!run.stderr.contains("No such file"), "{run:?}");
    }
}

#[test]
fn inspect_reads_file_urls_and_existing_paths_with_pattern_characters_literally() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("run[1]{a,b}");
    std::fs::create_dir_all(&odd).unwrap();
    let shards = write_dataset(&odd, 3, 10);
    // A decoy that a glob `run[1]` would match.
    write_dataset(&dir.path().join("run1a"), 7, 10);
    let path = shards[0].path.display().to_string();
    for arg in [
        path.clone(),
        format!("file://{path}"),
        odd.display().to_string(),
    ] {
        let run = atdata(&["inspect", &arg, "--json"]);
        assert!(run.ok(), "{arg}: {run:?}");
        assert_eq!(run.json()["samples"], 3, "{arg}");
    }
    let run = atdata(&["inspect", "@local/docs"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("dataset reference"), "{run:?}");
}
