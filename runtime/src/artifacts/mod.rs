//! Content-addressed artifacts on object storage — S3, GCS, Azure or a shared folder — with a
//! local cache verified by sha256.
//!
//! An artifact is named by its sha256 and extension: `PREFIX/ab/abcd….onnx` in the store,
//! `CACHE/ab/abcd….onnx` on this machine. The API is synchronous: the store runs its requests
//! on a small tokio runtime of its own. Call it from plain threads or from a tokio runtime's
//! `spawn_blocking`, not from inside an async task (tokio refuses to block a runtime's worker).

mod cache;
mod error;
mod open;

use std::future::Future;
use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use error::ArtifactError;
use error::{classify, classify_io, describe};

/// A content-addressed artifact store and this machine's cache of it.
pub struct ArtifactStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
    cache: PathBuf,
    runtime: Blocking,
}

impl std::fmt::Debug for ArtifactStore {
    // By hand: the clients' own `Debug` would show their credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactStore").field("url", &self.url).field("cache", &self.cache).finish()
    }
}

impl ArtifactStore {
    /// Opens the store at `url` (`s3://BUCKET/PREFIX`, `gs://BUCKET/PREFIX`,
    /// `az://CONTAINER/PREFIX` or `azure://…`, `file:///ABSOLUTE/PATH`), caching artifacts
    /// under `cache_dir` (created if missing).
    ///
    /// Endpoint, region and credentials come from the environment (`AWS_*`, `GOOGLE_*`,
    /// `AZURE_*`) and each cloud's standard chain. The store is listed once here (one request),
    /// so that a missing bucket, an unreachable endpoint or refused credentials show now.
    pub fn from_url(url: &str, cache_dir: &FsPath) -> Result<ArtifactStore, ArtifactError> {
        let opened = open::open(url)?;
        std::fs::create_dir_all(cache_dir).map_err(|source| ArtifactError::Io { path: cache_dir.into(), source })?;
        let runtime =
            Blocking::new().map_err(|e| ArtifactError::Config { url: opened.url.clone(), detail: describe(&e) })?;
        let store = ArtifactStore {
            store: opened.store,
            prefix: opened.prefix,
            url: opened.url,
            cache: cache_dir.to_path_buf(),
            runtime,
        };
        // One page of one listing: a single request, however many artifacts there are.
        let prefix = (!store.prefix.as_ref().is_empty()).then_some(&store.prefix);
        store.runtime.run(store.store.list(prefix).next()).transpose().map_err(|e| match e {
            e if error::not_found(&e) => ArtifactError::NoSuchBucket { url: store.url.clone() },
            e => classify(e, "list", &store.url, &store.url),
        })?;
        Ok(store)
    }

    /// Whether the store holds the artifact.
    pub fn exists(&self, sha256: &str, ext: &str) -> Result<bool, ArtifactError> {
        let location = self.location(sha256, ext)?;
        Ok(self.runtime.run(self.head(&location))?.is_some())
    }

    /// Uploads `file`, whose content hashes to `sha256`, unless the store already holds an
    /// object of that name and size; returns whether it uploaded. The file is streamed
    /// (multipart above 10 MB, a few parts in memory at a time) and hashed on the way: if it
    /// does not hash to `sha256`, the upload is abandoned before it completes, so no object
    /// appears.
    pub fn put(&self, file: &FsPath, sha256: &str, ext: &str) -> Result<bool, ArtifactError> {
        let location = self.location(sha256, ext)?;
        let size = std::fs::metadata(file).map_err(|source| ArtifactError::Io { path: file.into(), source })?.len();
        self.runtime.run(async {
            if self.head(&location).await?.is_some_and(|meta| meta.size == size) {
                return Ok(false);
            }
            self.upload(file, sha256, &location).await.map(|()| true)
        })
    }

    /// A local copy of the artifact, downloaded into the cache when missing.
    ///
    /// Verified: a download hashes to `sha256` before it is renamed into place (otherwise
    /// `Corrupt`, and the download is deleted, never used). A cached copy is checked cheaply,
    /// by its size and modification time against those recorded when it was last verified
    /// (`….verified` beside it); any difference hashes it again in full, and a copy that no
    /// longer hashes to `sha256` is deleted and downloaded again. Not verified: a cached copy
    /// altered keeping its size and modification time — the cache is trusted like the state
    /// folder it lives in.
    pub fn fetch(&self, sha256: &str, ext: &str) -> Result<PathBuf, ArtifactError> {
        let location = self.location(sha256, ext)?;
        let dest = self.cache.join(&sha256[..2]).join(format!("{sha256}.{ext}"));
        if cache::holds(&dest, sha256)? {
            return Ok(dest);
        }
        self.runtime.run(self.download(&location, sha256, &dest))?;
        cache::record(&dest)?;
        Ok(dest)
    }

    /// The object's name for a content address, after checking that it is one (so that no
    /// name can reach outside the prefix).
    fn location(&self, sha256: &str, ext: &str) -> Result<Path, ArtifactError> {
        let hex = sha256.len() == 64 && sha256.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let ext_ok = !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_alphanumeric());
        if !hex || !ext_ok {
            return Err(ArtifactError::BadName { name: format!("{sha256}.{ext}") });
        }
        Ok(self.prefix.clone().join(&sha256[..2]).join(format!("{sha256}.{ext}")))
    }

    /// The object's full name in messages.
    fn object(&self, location: &Path) -> String {
        let relative = location.as_ref().strip_prefix(self.prefix.as_ref()).unwrap_or(location.as_ref());
        format!("{}/{}", self.url, relative.trim_start_matches('/'))
    }

    async fn head(&self, location: &Path) -> Result<Option<ObjectMeta>, ArtifactError> {
        match self.store.head(location).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(classify(e, "check", &self.url, &self.object(location))),
        }
    }

    async fn upload(&self, file: &FsPath, sha256: &str, location: &Path) -> Result<(), ArtifactError> {
        let object = self.object(location);
        let local = |source| ArtifactError::Io { path: file.into(), source };
        let mut source = tokio::fs::File::open(file).await.map_err(local)?;
        let mut writer = BufWriter::new(self.store.clone(), location.clone()).with_max_concurrency(4);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = source.read(&mut buf).await.map_err(local)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if let Err(e) = writer.write_all(&buf[..n]).await {
                let _ = writer.abort().await;
                return Err(classify_io(e, "upload", &self.url, &object));
            }
        }
        let actual = format!("{:x}", hasher.finalize());
        if actual != sha256 {
            let _ = writer.abort().await;
            return Err(ArtifactError::LocalMismatch { path: file.into(), expected: sha256.into(), actual });
        }
        writer.shutdown().await.map_err(|e| classify_io(e, "upload", &self.url, &object))
    }

    /// Streams the object to a temporary file beside `dest`, hashing it on the way, and
    /// renames it into place only if it hashes to `sha256`.
    async fn download(&self, location: &Path, sha256: &str, dest: &FsPath) -> Result<(), ArtifactError> {
        let object = self.object(location);
        let dir = dest.parent().expect("a cache path has a folder");
        let local = |source| ArtifactError::Io { path: dir.into(), source };
        std::fs::create_dir_all(dir).map_err(local)?;
        // Deleted when dropped: an error or a bad hash leaves nothing behind.
        let mut tmp = tempfile::Builder::new().prefix(".download-").tempfile_in(dir).map_err(local)?;
        let mut stream =
            self.store.get(location).await.map_err(|e| classify(e, "download", &self.url, &object))?.into_stream();
        let mut hasher = Sha256::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| classify(e, "download", &self.url, &object))?;
            hasher.update(&chunk);
            tmp.write_all(&chunk).map_err(local)?;
        }
        let actual = format!("{:x}", hasher.finalize());
        if actual != sha256 {
            return Err(ArtifactError::Corrupt { object, expected: sha256.into(), actual });
        }
        tmp.as_file().sync_all().map_err(local)?;
        tmp.persist(dest).map_err(|e| ArtifactError::Io { path: dest.into(), source: e.error })?;
        Ok(())
    }
}

/// A current-thread tokio runtime that runs the store's requests for synchronous callers.
/// Several threads may wait on it at once: tokio lets one drive it while the others wait.
struct Blocking(Option<tokio::runtime::Runtime>);

impl Blocking {
    fn new() -> std::io::Result<Blocking> {
        Ok(Blocking(Some(tokio::runtime::Builder::new_current_thread().enable_all().build()?)))
    }

    fn run<F: Future>(&self, future: F) -> F::Output {
        self.0.as_ref().expect("the runtime lives until the store is dropped").block_on(future)
    }
}

impl Drop for Blocking {
    /// Without waiting for its tasks, so that a store may be dropped anywhere, even inside
    /// another runtime's task.
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
