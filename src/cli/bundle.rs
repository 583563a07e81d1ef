//! `keyward bundle`: building, checking and signing world bundles (docs/bundles.md).

use super::{BAD_INPUT, FAILED, OK};
use crate::bundle::archive::{self, Limits, Sign};
use crate::bundle::keys;
use std::path::{Path, PathBuf};

/// Arguments of `keyward bundle`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Build a bundle: a .tar.gz of the world files of WORLD (a file, or a directory's *.json
    /// files) with a manifest of their SHA-256s. The world must load, or nothing is written.
    Build {
        /// The world file or directory.
        world: PathBuf,
        /// Where to write the bundle.
        #[arg(long, short)]
        out: PathBuf,
        /// The bundle's revision [default: the content hash of its world files].
        #[arg(long)]
        revision: Option<String>,
        /// Sign the manifest with this Ed25519 private key (PKCS#8 PEM, as
        /// `openssl genpkey -algorithm ed25519` writes it).
        #[arg(long, value_name = "KEY", conflicts_with = "digest")]
        sign: Option<PathBuf>,
        /// Add a SHA-256 digest of the manifest instead of a signature (catches corruption,
        /// not tampering).
        #[arg(long)]
        digest: bool,
    },
    /// Check a bundle: its entries, manifest, signature, and that its world loads. Exits 1 when
    /// it would be refused.
    Verify {
        /// The bundle file.
        bundle: PathBuf,
        /// Require an Ed25519 signature by this public key (SPKI PEM).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make an Ed25519 key pair for signing bundles: OUT (private, PKCS#8 PEM, mode 0600) and
    /// OUT with `.pub` added (public, SPKI PEM).
    Keygen {
        /// Where to write the private key.
        #[arg(long, short)]
        out: PathBuf,
    },
}

/// Runs a `keyward bundle` command.
pub fn run(args: Args) -> u8 {
    match args.command {
        Command::Build {
            world,
            out,
            revision,
            sign,
            digest,
        } => build(&world, &out, revision.as_deref(), sign.as_deref(), digest),
        Command::Verify {
            bundle,
            public_key,
            json,
        } => verify(&bundle, public_key.as_deref(), json),
        Command::Keygen { out } => keygen(&out),
    }
}

fn build(
    world: &Path,
    out: &Path,
    revision: Option<&str>,
    sign: Option<&Path>,
    digest: bool,
) -> u8 {
    let sign = match (sign, digest) {
        (Some(path), _) => match keys::read_signing_key(path) {
            Ok(k) => Sign::Ed25519(Box::new(k)),
            Err(e) => {
                eprintln!("keyward bundle build: {e}");
                return BAD_INPUT;
            }
        },
        (None, true) => Sign::Digest,
        (None, false) => Sign::None,
    };
    if super::load_world(world).is_none() {
        eprintln!("keyward bundle build: the world does not load; no bundle written");
        return BAD_INPUT;
    }
    let files = match archive::world_files(world) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("keyward bundle build: {e}");
            return BAD_INPUT;
        }
    };
    let created = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let bytes = match archive::build(&files, revision, &created, &sign) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("keyward bundle build: {e}");
            return BAD_INPUT;
        }
    };
    // Read back exactly as a server would, so a bundle written is a bundle that loads.
    let limits = Limits::default();
    let checked = archive::unpack(&bytes, &limits, None, &out.display().to_string());
    let bundle = match checked {
        Ok(b) => b,
        Err(e) => {
            eprintln!("keyward bundle build: {e}");
            return BAD_INPUT;
        }
    };
    if let Err(e) = std::fs::write(out, &bytes) {
        eprintln!("keyward bundle build: cannot write {}: {e}", out.display());
        return BAD_INPUT;
    }
    println!(
        "wrote {}: revision {}, {}, {} bytes, {}",
        out.display(),
        bundle.manifest.revision,
        super::count(bundle.files.len(), "world file", "world files"),
        bytes.len(),
        bundle.trust.as_str()
    );
    OK
}

fn verify(path: &Path, public_key: Option<&Path>, json: bool) -> u8 {
    let key = match public_key.map(keys::read_verifying_key).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("keyward bundle verify: {e}");
            return BAD_INPUT;
        }
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("keyward bundle verify: cannot read {}: {e}", path.display());
            return BAD_INPUT;
        }
    };
    let shown = path.display().to_string();
    let checked = archive::unpack(&bytes, &Limits::default(), key.as_ref(), &shown)
        .map_err(|e| e.to_string())
        .and_then(|b| {
            crate::world::World::from_texts(&b.files)
                .map(|w| (b, w))
                .map_err(|e| format!("{shown}: the world does not load:\n{e}"))
        });
    match checked {
        Ok((bundle, world)) => {
            if json {
                let out = serde_json::json!({
                    "ok": true,
                    "revision": bundle.manifest.revision,
                    "created": bundle.manifest.created,
                    "hash": bundle.hash,
                    "signature": bundle.trust.as_str(),
                    "files": bundle.manifest.files,
                    "keys": world.keys.len(),
                    "principals": world.principals.len(),
                    "grants": world.grants.len(),
                });
                println!("{out}");
            } else {
                println!(
                    "{}: revision {}, created {}, {}, {}; world: {} keys, {} principals, {} grants",
                    shown,
                    bundle.manifest.revision,
                    bundle.manifest.created,
                    super::count(bundle.files.len(), "world file", "world files"),
                    bundle.trust.as_str(),
                    world.keys.len(),
                    world.principals.len(),
                    world.grants.len()
                );
            }
            OK
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({"ok": false, "error": e}));
            } else {
                eprintln!("keyward bundle verify: {e}");
            }
            FAILED
        }
    }
}

fn keygen(out: &Path) -> u8 {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = match keys::generate() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("keyward bundle keygen: {e}");
            return BAD_INPUT;
        }
    };
    let mut public = out.as_os_str().to_owned();
    public.push(".pub");
    let public = PathBuf::from(public);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .and_then(|mut f| f.write_all(keys::signing_key_pem(&key).as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
        .and_then(|()| {
            std::fs::write(&public, keys::verifying_key_pem(&key.verifying_key()))
                .map_err(|e| format!("cannot write {}: {e}", public.display()))
        });
    match written {
        Ok(()) => {
            println!(
                "wrote {} (private key) and {} (public key)",
                out.display(),
                public.display()
            );
            OK
        }
        Err(e) => {
            eprintln!("keyward bundle keygen: {e}");
            BAD_INPUT
        }
    }
}
