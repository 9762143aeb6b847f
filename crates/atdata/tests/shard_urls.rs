//! Shard list expansion against real directories.

use std::fs;
use std::path::Path;

use atdata::shard::expand;
use atdata::Error;

fn touch(dir: &Path, rel: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, b"").unwrap();
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn names(dir: &Path, list: &[String]) -> Vec<String> {
    let root = format!("{}/", s(dir));
    list.iter()
        .map(|x| x.strip_prefix(&root).unwrap_or(x).to_string())
        .collect()
}

#[test]
fn plain_path() {
    let d = tempfile::tempdir().unwrap();
    touch(d.path(), "a.tar");
    let p = s(&d.path().join("a.tar"));
    assert_eq!(expand(&p).unwrap(), [p]);
}

#[test]
fn brace_range_keeps_zero_padding_and_order() {
    let d = tempfile::tempdir().unwrap();
    for i in 0..12 {
        touch(d.path(), &format!("data-{i:06}.tar"));
    }
    let pat = format!("{}/data-{{000000..000011}}.tar", s(d.path()));
    let got = expand(&pat).unwrap();
    let want: Vec<String> = (0..12).map(|i| format!("data-{i:06}.tar")).collect();
    assert_eq!(names(d.path(), &got), want);
}

#[test]
fn brace_alternatives_and_several_groups() {
    let d = tempfile::tempdir().unwrap();
    for x in ["train", "test"] {
        for i in 0..2 {
            touch(d.path(), &format!("{x}/s-{i}.tar"));
        }
    }
    let pat = format!("{}/{{train,test}}/s-{{0..1}}.tar", s(d.path()));
    assert_eq!(
        names(d.path(), &expand(&pat).unwrap()),
        [
            "train/s-0.tar",
            "train/s-1.tar",
            "test/s-0.tar",
            "test/s-1.tar"
        ]
    );
}

/// A target naming no file is an I/O error of kind NotFound (Python: `ShardNotFoundError`, a
/// `FileNotFoundError`), not the index's `Error::NotFound`.
fn is_missing_file(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

#[test]
fn a_missing_member_of_a_brace_range_is_named() {
    let d = tempfile::tempdir().unwrap();
    touch(d.path(), "x-0.tar");
    touch(d.path(), "x-2.tar");
    let pat = format!("{}/x-{{0..2}}.tar", s(d.path()));
    let err = expand(&pat).unwrap_err();
    assert!(is_missing_file(&err), "{err}");
    assert!(err.to_string().contains("x-1.tar"), "{err}");
}

#[test]
fn globs_are_sorted_and_match_files_only() {
    let d = tempfile::tempdir().unwrap();
    for n in ["b.tar", "a.tar", "c.txt", "sub/d.tar", "sub/deeper/e.tar"] {
        touch(d.path(), n);
    }
    fs::create_dir_all(d.path().join("dir.tar")).unwrap();
    let flat = expand(&format!("{}/*.tar", s(d.path()))).unwrap();
    assert_eq!(names(d.path(), &flat), ["a.tar", "b.tar"]);
    let deep = expand(&format!("{}/**/*.tar", s(d.path()))).unwrap();
    assert_eq!(
        names(d.path(), &deep),
        ["a.tar", "b.tar", "sub/d.tar", "sub/deeper/e.tar"]
    );
    let none = expand(&format!("{}/*.zip", s(d.path()))).unwrap_err();
    assert!(is_missing_file(&none), "{none}");
    assert!(none.to_string().contains("no shard file matches"), "{none}");
    let bad = expand(&format!("{}/[.tar", s(d.path()))).unwrap_err();
    assert!(matches!(bad, Error::InvalidArgument(_)), "{bad}");
}

#[test]
fn directories_list_their_tar_files_recursively_sorted() {
    let d = tempfile::tempdir().unwrap();
    for n in [
        "s-10.tar",
        "s-02.tar",
        "notes.txt",
        ".atdata-shard-x.tmp",
        "sub/s-00.tar",
        ".staging/hidden.tar",
    ] {
        touch(d.path(), n);
    }
    let got = expand(&s(d.path())).unwrap();
    assert_eq!(
        names(d.path(), &got),
        ["s-02.tar", "s-10.tar", "sub/s-00.tar"]
    );
    let empty = tempfile::tempdir().unwrap();
    let err = expand(&s(empty.path())).unwrap_err();
    assert!(is_missing_file(&err), "{err}");
    assert!(err.to_string().contains("no .tar shard"), "{err}");
}

#[test]
fn missing_paths_and_bad_patterns() {
    let d = tempfile::tempdir().unwrap();
    let missing = expand(&s(&d.path().join("nope.tar"))).unwrap_err();
    assert!(is_missing_file(&missing), "{missing}");
    let text = missing.to_string();
    assert!(
        text.contains("nope.tar") && text.contains("shard file not found"),
        "{text}"
    );
    for bad in ["", "  ", "a-{0..1.tar", "a-}.tar"] {
        let err = expand(bad).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad:?}: {err}");
    }
}

#[test]
fn urls_with_another_scheme_than_file_are_refused_by_name() {
    // With the feature `s3`, s3:// and http(s):// targets are read (and brace-expanded).
    let remote: &[&str] = if cfg!(feature = "s3") {
        &[]
    } else {
        &["s3://bucket/ds/data-{000..002}.tar", "https://h/x.tar"]
    };
    for url in remote.iter().copied().chain(["gs://b/*.tar"]) {
        let e = expand(url).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{url}: {e}");
        let scheme = url.split("://").next().unwrap();
        let text = e.to_string();
        assert!(
            text.contains(&format!("unsupported URL scheme '{scheme}'")),
            "{text}"
        );
    }
}

#[cfg(feature = "s3")]
#[test]
fn remote_targets_expand_their_braces_without_listing() {
    assert_eq!(
        expand("s3://bucket/ds/data-{000..002}.tar").unwrap(),
        [
            "s3://bucket/ds/data-000.tar",
            "s3://bucket/ds/data-001.tar",
            "s3://bucket/ds/data-002.tar"
        ]
    );
    assert_eq!(expand("https://h/x.tar").unwrap(), ["https://h/x.tar"]);
    let e = expand("s3://b/x-{0..1.tar").unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
}

#[test]
fn file_urls_name_local_paths_patterns_and_directories() {
    let d = tempfile::tempdir().unwrap();
    touch(d.path(), "x-0.tar");
    touch(d.path(), "x-1.tar");
    let root = s(d.path());
    let want = [format!("{root}/x-0.tar"), format!("{root}/x-1.tar")];
    assert_eq!(
        expand(&format!("file://{root}/x-{{0..1}}.tar")).unwrap(),
        want
    );
    assert_eq!(expand(&format!("file://{root}/*.tar")).unwrap(), want);
    assert_eq!(expand(&format!("file://{root}")).unwrap(), want);
    assert_eq!(
        expand(&format!("file://localhost{root}/x-0.tar")).unwrap(),
        want[..1]
    );
}

#[test]
fn a_path_that_exists_is_literal_whatever_characters_it_holds() {
    let d = tempfile::tempdir().unwrap();
    // Each literal name, and a decoy its pattern reading would match.
    for (literal, decoy) in [
        ("run[1]/a.tar", "run1/a.tar"),
        ("b?.tar", "bb.tar"),
        ("c*.tar", "cc.tar"),
        ("{x,y}.tar", "x.tar"),
    ] {
        touch(d.path(), literal);
        touch(d.path(), decoy);
        let p = s(&d.path().join(literal));
        assert_eq!(expand(&p).unwrap(), std::slice::from_ref(&p), "{literal}");
    }
    // A folder with pattern characters is listed as it is.
    let dir = s(&d.path().join("run[1]"));
    assert_eq!(expand(&dir).unwrap(), [format!("{dir}/a.tar")]);
    // A pattern naming no file as it stands is still a pattern.
    let glob = format!("{}/run[1]/*.tar", s(d.path()));
    assert_eq!(
        names(d.path(), &expand(&glob).unwrap()),
        ["run1/a.tar"],
        "`[1]` in a glob is a class"
    );
}
