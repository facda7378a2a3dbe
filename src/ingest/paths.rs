//! Output files must never overwrite what a command reads: a rejects file or
//! an `-o` output naming the store (or its SQLite `-wal`/`-shm`/`-journal`
//! siblings), an input, or a mapping file is refused before anything is
//! written. Paths are compared after resolving `..`, symlinks (also dangling
//! ones, and a file that does not exist yet, through its directory).

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// The files of a SQLite store besides the main file.
const STORE_SIBLINGS: [&str; 4] = ["", "-wal", "-shm", "-journal"];

/// How many symlinks are followed before giving up (as the kernel's ELOOP).
const MAX_LINKS: usize = 40;

/// `path` as an absolute path with every symlink resolved, whether or not the
/// file exists: the longest existing prefix is canonicalised, then the rest is
/// appended (a dangling symlink is followed to its target).
pub fn resolve(path: &Path) -> PathBuf {
    resolve_depth(path, 0)
}

fn resolve_depth(path: &Path, depth: usize) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    if let Ok(p) = std::fs::canonicalize(&absolute) {
        return p;
    }
    // A dangling symlink: follow it by hand.
    if depth < MAX_LINKS {
        if let Ok(target) = std::fs::read_link(&absolute) {
            let base = absolute.parent().unwrap_or(Path::new("/"));
            return resolve_depth(&base.join(target), depth + 1);
        }
    }
    // Does not exist: resolve the directory, keep the name.
    match (absolute.parent(), absolute.file_name()) {
        (Some(parent), Some(name)) if parent != absolute => {
            resolve_depth(parent, depth + 1).join(name)
        }
        _ => lexical(&absolute),
    }
}

/// Removes `.` and `..` without touching the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What an output may not overwrite.
#[derive(Debug, Default)]
pub struct Protected {
    files: Vec<(PathBuf, String)>,
}

impl Protected {
    /// Nothing protected yet.
    pub fn new() -> Self {
        Protected::default()
    }

    /// The store and its SQLite sibling files.
    pub fn store(mut self, store: &Path) -> Self {
        for suffix in STORE_SIBLINGS {
            let mut p: OsString = store.as_os_str().to_owned();
            p.push(suffix);
            self.files.push((
                resolve(Path::new(&p)),
                format!("the store {}", store.display()),
            ));
        }
        self
    }

    /// A file the command reads (`-`, standard input, is no file).
    pub fn input(mut self, what: &str, path: &Path) -> Self {
        if path.as_os_str() != "-" {
            self.files
                .push((resolve(path), format!("{what} {}", path.display())));
        }
        self
    }

    /// Refuses `output` (named by `flag`) when it is one of the protected files.
    pub fn check(&self, flag: &str, output: &Path) -> Result<(), String> {
        let out = resolve(output);
        match self.files.iter().find(|(p, _)| *p == out) {
            Some((_, what)) => Err(format!(
                "{flag} {} would overwrite {what}; choose another file (nothing was written)",
                output.display()
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_inputs_siblings_and_links_are_protected() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let d = dir.path();
        std::fs::write(d.join("in.geojson"), "{}").expect("write");
        std::fs::create_dir(d.join("sub")).expect("mkdir");
        let p = Protected::new()
            .store(&d.join("store.gpkg"))
            .input("input", &d.join("in.geojson"))
            .input("input", Path::new("-"));
        // The store, even before it exists, and its siblings.
        assert!(p.check("--rejects", &d.join("store.gpkg")).is_err());
        assert!(p.check("--rejects", &d.join("store.gpkg-wal")).is_err());
        assert!(p.check("--rejects", &d.join("store.gpkg-shm")).is_err());
        assert!(p.check("--rejects", &d.join("sub/../store.gpkg")).is_err());
        // Through a symlink to the input and a dangling one to the store.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(d.join("in.geojson"), d.join("link")).expect("link");
            std::os::unix::fs::symlink(d.join("store.gpkg"), d.join("dangling")).expect("link");
            std::os::unix::fs::symlink(d, d.join("dirlink")).expect("link");
            assert!(p.check("--rejects", &d.join("link")).is_err());
            assert!(p.check("--rejects", &d.join("dangling")).is_err());
            assert!(p.check("-o", &d.join("dirlink/store.gpkg")).is_err());
        }
        let e = p.check("--rejects", &d.join("in.geojson")).unwrap_err();
        assert!(e.contains("would overwrite input"), "{e}");
        // Other files are fine.
        assert!(p.check("--rejects", &d.join("rejects.ndjson")).is_ok());
        assert!(p.check("--rejects", &d.join("store.gpkg.bak")).is_ok());
    }
}
