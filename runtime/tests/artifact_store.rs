//! `ArtifactStore` against a shared folder (`file://`, always) and a real S3 endpoint (moto,
//! where `MLPC_TEST_S3` names a bucket: `eval "$(scripts/services/s3 start)"`). Each case runs
//! on both: `round_trip::file`, `round_trip::s3`, ….

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mlpc_runtime::{ArtifactError, ArtifactStore};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

#[derive(Clone, Copy)]
enum Backend {
    File,
    S3,
}

/// An empty store of its own, a cache of its own, and a second client to the same objects
/// (to tamper with them behind the store's back).
struct Fixture {
    store: ArtifactStore,
    url: String,
    cache: PathBuf,
    raw: Arc<dyn ObjectStore>,
    prefix: String,
    dir: tempfile::TempDir,
}

fn fixture(backend: Backend, case: &str) -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let (url, raw, prefix): (String, Arc<dyn ObjectStore>, String) = match backend {
        Backend::File => {
            let folder = dir.path().join("store");
            std::fs::create_dir(&folder).unwrap();
            let raw = object_store::local::LocalFileSystem::new_with_prefix(&folder).unwrap();
            (format!("file://{}", folder.display()), Arc::new(raw), String::new())
        }
        Backend::S3 => {
            let prefix = common::unique(case);
            let url = format!("{}/{prefix}", common::s3_url(case)?);
            let raw = object_store::aws::AmazonS3Builder::from_env().with_url(&url).build().unwrap();
            (url, Arc::new(raw), format!("{prefix}/"))
        }
    };
    let cache = dir.path().join("cache");
    let store = ArtifactStore::from_url(&url, &cache).unwrap();
    Some(Fixture { store, url, cache, raw, prefix, dir })
}

impl Fixture {
    /// A file of `len` reproducible pseudo-random bytes (seeded by `seed`) and its sha256.
    fn file(&self, name: &str, len: usize, seed: u64) -> (PathBuf, String) {
        let path = self.dir.path().join(name);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut hasher = Sha256::new();
        let mut x = seed | 1;
        let mut chunk = Vec::with_capacity(1 << 16);
        for i in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.push(x as u8);
            if chunk.len() == chunk.capacity() || i + 1 == len {
                hasher.update(&chunk);
                std::io::Write::write_all(&mut out, &chunk).unwrap();
                chunk.clear();
            }
        }
        (path, format!("{:x}", hasher.finalize()))
    }

    /// Replaces the object's bytes behind the store's back.
    fn overwrite(&self, sha: &str, ext: &str, bytes: &'static [u8]) {
        let location = object_store::path::Path::from(format!("{}{}/{sha}.{ext}", self.prefix, &sha[..2]));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(self.raw.put(&location, PutPayload::from_static(bytes))).unwrap();
    }

    fn object_etag(&self, sha: &str, ext: &str) -> Option<String> {
        let location = object_store::path::Path::from(format!("{}{}/{sha}.{ext}", self.prefix, &sha[..2]));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(self.raw.head(&location)).unwrap().e_tag
    }
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    entries
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

fn round_trip(backend: Backend) {
    let Some(f) = fixture(backend, "round_trip") else { return };
    let (file, sha) = f.file("model.onnx", 100_000, 1);
    assert!(!f.store.exists(&sha, "onnx").unwrap());
    assert!(f.store.put(&file, &sha, "onnx").unwrap(), "uploaded");
    assert!(f.store.exists(&sha, "onnx").unwrap());
    assert!(!f.store.exists(&sha, "parquet").unwrap(), "the extension is part of the name");
    let local = f.store.fetch(&sha, "onnx").unwrap();
    assert_eq!(local, f.cache.join(&sha[..2]).join(format!("{sha}.onnx")));
    assert_eq!(std::fs::read(&local).unwrap(), std::fs::read(&file).unwrap());
    // A second fetch is served from the cache: the object is no longer needed.
    f.overwrite(&sha, "onnx", b"changed in the store");
    assert_eq!(f.store.fetch(&sha, "onnx").unwrap(), local);
    assert_eq!(std::fs::read(&local).unwrap(), std::fs::read(&file).unwrap());
}

fn idempotent_put(backend: Backend) {
    let Some(f) = fixture(backend, "idempotent_put") else { return };
    let (file, sha) = f.file("data.parquet", 5_000, 2);
    assert!(f.store.put(&file, &sha, "parquet").unwrap());
    assert!(!f.store.put(&file, &sha, "parquet").unwrap(), "already there: not uploaded again");
    // An object of the wrong size under that name is replaced.
    f.overwrite(&sha, "parquet", b"truncated");
    assert!(f.store.put(&file, &sha, "parquet").unwrap());
    let fetched = f.store.fetch(&sha, "parquet").unwrap();
    assert_eq!(std::fs::read(fetched).unwrap(), std::fs::read(&file).unwrap());
}

fn put_refuses_a_file_that_is_not_its_hash(backend: Backend) {
    let Some(f) = fixture(backend, "put_refuses_a_file_that_is_not_its_hash") else { return };
    let (file, _) = f.file("a.onnx", 1_000, 3);
    let (_, other) = f.file("b.onnx", 1_000, 4);
    let err = f.store.put(&file, &other, "onnx").unwrap_err();
    assert!(matches!(err, ArtifactError::LocalMismatch { .. }), "{err:?}");
    assert!(!f.store.exists(&other, "onnx").unwrap(), "nothing uploaded");
}

fn corrupt_object_is_refused(backend: Backend) {
    let Some(f) = fixture(backend, "corrupt_object_is_refused") else { return };
    let (file, sha) = f.file("model.onnx", 50_000, 5);
    f.store.put(&file, &sha, "onnx").unwrap();
    f.overwrite(&sha, "onnx", b"not the model");
    let err = f.store.fetch(&sha, "onnx").unwrap_err();
    let ArtifactError::Corrupt { object, expected, actual } = &err else { panic!("{err:?}") };
    assert_eq!(expected, &sha);
    assert_eq!(actual, &format!("{:x}", Sha256::digest(b"not the model")));
    assert_eq!(object, &format!("{}/{}/{sha}.onnx", f.url, &sha[..2]));
    let text = err.to_string();
    assert!(text.contains(object) && text.contains(expected) && text.contains(actual), "{text}");
    assert_eq!(files_under(&f.cache), Vec::<PathBuf>::new(), "the bad download is gone");
}

fn tampered_cache_is_fetched_again(backend: Backend) {
    let Some(f) = fixture(backend, "tampered_cache_is_fetched_again") else { return };
    let (file, sha) = f.file("model.onnx", 20_000, 6);
    f.store.put(&file, &sha, "onnx").unwrap();
    let local = f.store.fetch(&sha, "onnx").unwrap();
    std::fs::write(&local, b"edited").unwrap();
    assert_eq!(f.store.fetch(&sha, "onnx").unwrap(), local);
    assert_eq!(std::fs::read(&local).unwrap(), std::fs::read(&file).unwrap());
    // A cached copy with no record of its check is hashed once, then trusted.
    std::fs::remove_file(local.with_file_name(format!("{sha}.onnx.verified"))).unwrap();
    f.overwrite(&sha, "onnx", b"changed in the store");
    assert_eq!(std::fs::read(f.store.fetch(&sha, "onnx").unwrap()).unwrap(), std::fs::read(&file).unwrap());
}

fn missing_object(backend: Backend) {
    let Some(f) = fixture(backend, "missing_object") else { return };
    let sha = "ab".repeat(32);
    let err = f.store.fetch(&sha, "onnx").unwrap_err();
    assert!(
        matches!(&err, ArtifactError::NotFound { object } if object.ends_with(&format!("/ab/{sha}.onnx"))),
        "{err:?}"
    );
    assert_eq!(files_under(&f.cache), Vec::<PathBuf>::new());
    for (sha, ext) in [("../etc", "onnx"), (sha.as_str(), "../x"), (&sha.to_uppercase(), "onnx"), (&sha[1..], "onnx")] {
        let err = f.store.fetch(sha, ext).unwrap_err();
        assert!(matches!(err, ArtifactError::BadName { .. }), "{err:?}");
    }
}

/// Two threads fetch one object at once; a third from a multi-thread runtime's
/// `spawn_blocking`; the store is dropped inside an async task.
fn concurrent_fetches(backend: Backend) {
    let Some(f) = fixture(backend, "concurrent_fetches") else { return };
    let (file, sha) = f.file("model.onnx", 3_000_000, 7);
    f.store.put(&file, &sha, "onnx").unwrap();
    let expected = std::fs::read(&file).unwrap();
    let Fixture { store, dir: _dir, .. } = f;
    let store = Arc::new(store);
    let fetched: Vec<PathBuf> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2).map(|_| s.spawn(|| store.fetch(&sha, "onnx").unwrap())).collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert_eq!(fetched[0], fetched[1]);
    assert_eq!(std::fs::read(&fetched[0]).unwrap(), expected);
    let names: Vec<_> = files_under(fetched[0].parent().unwrap());
    assert_eq!(names.len(), 2, "the artifact and its check record, no temporary files: {names:?}");

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let from_task = runtime.block_on(async {
        let (store, sha) = (store.clone(), sha.clone());
        tokio::task::spawn_blocking(move || store.exists(&sha, "onnx").and_then(|_| store.fetch(&sha, "onnx")))
            .await
            .unwrap()
    });
    assert_eq!(from_task.unwrap(), fetched[0]);
    runtime.block_on(async move { drop(store) });
}

/// 20 MB goes up in parts (S3 names a multipart object's ETag `…-PARTS`) and down as a stream.
fn large_file(backend: Backend) {
    let Some(f) = fixture(backend, "large_file") else { return };
    let (file, sha) = f.file("big.parquet", 20 << 20, 8);
    assert!(f.store.put(&file, &sha, "parquet").unwrap());
    if let Backend::S3 = backend {
        let etag = f.object_etag(&sha, "parquet").unwrap();
        assert!(etag.trim_matches('"').ends_with("-2"), "uploaded in two parts: {etag}");
    }
    let local = f.store.fetch(&sha, "parquet").unwrap();
    assert_eq!(std::fs::metadata(&local).unwrap().len(), 20 << 20);
    assert_eq!(sha256_of(&local), sha);
}

fn sha256_of(path: &Path) -> String {
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut hasher).unwrap();
    format!("{:x}", hasher.finalize())
}

macro_rules! on_each_backend {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[test]
            fn file() {
                super::$case(super::Backend::File)
            }
            #[test]
            fn s3() {
                super::$case(super::Backend::S3)
            }
        }
    )*};
}

on_each_backend!(
    round_trip,
    idempotent_put,
    put_refuses_a_file_that_is_not_its_hash,
    corrupt_object_is_refused,
    tampered_cache_is_fetched_again,
    missing_object,
    concurrent_fetches,
    large_file,
);

#[test]
fn urls_are_checked_before_anything_is_reached() {
    let cache = tempfile::tempdir().unwrap();
    let open = |url: &str| ArtifactStore::from_url(url, cache.path()).unwrap_err();
    assert!(matches!(open("ftp://host/p"), ArtifactError::UnknownScheme { scheme, .. } if scheme == "ftp"));
    assert!(matches!(open("https://example.com/p"), ArtifactError::UnknownScheme { .. }));
    for url in ["s3:///prefix", "gs:///prefix", "az:///prefix"] {
        let err = open(url);
        assert!(matches!(err, ArtifactError::MissingBucket { .. }), "{url}: {err:?}");
        assert!(err.to_string().contains("://BUCKET/PREFIX"), "says how to write it: {err}");
    }
    assert!(matches!(open("s3://bucket/p?versionId=1"), ArtifactError::BadUrl { .. }));
    assert!(matches!(open("not a url"), ArtifactError::BadUrl { .. }));
    let missing = cache.path().join("absent");
    let err = open(&format!("file://{}", missing.display()));
    assert!(err.to_string().contains("create it"), "{err}");
    assert!(matches!(open("file://host/p"), ArtifactError::BadUrl { .. }));
}
