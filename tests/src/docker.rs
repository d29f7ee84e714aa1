//! The real `docker` and `skopeo` CLIs, isolated per test.
//!
//! `Docker` talks to the private engine of `tests/services/dockerd-up.sh` (`DOCKER_HOST`)
//! with a private `DOCKER_CONFIG`, so logins never touch `~/.docker` and tests running in
//! parallel do not share credentials. Images are made locally (`docker import` of a
//! generated root filesystem, or `docker build` of a `FROM scratch` Dockerfile), never
//! pulled from anywhere.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::Command;

use crate::env::require;
use crate::oci::random_bytes;
use crate::process::{self, CmdOutput};

/// Limit for one docker or skopeo command; pushes here are a few MiB over loopback.
const CLI_TIMEOUT: Duration = Duration::from_secs(180);

pub struct Docker {
    host: String,
    config: TempDir,
    work: TempDir,
    /// Local image references this helper created, removed on drop to free engine space.
    created: Mutex<Vec<String>>,
}

impl Docker {
    /// Uses the engine at `DOCKER_HOST` (required).
    pub fn from_env() -> Docker {
        Docker {
            host: require("DOCKER_HOST"),
            config: tempdir("berth-e2e-docker-config-"),
            work: tempdir("berth-e2e-docker-work-"),
            created: Mutex::new(Vec::new()),
        }
    }

    /// The engine address, e.g. `unix:///tmp/berth-dockerd.X/docker.sock`.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.args(args)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.config.path())
            // The engine has no BuildKit here; the legacy builder makes one layer per COPY.
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CLI_HINTS", "false")
            .env_remove("DOCKER_CONTEXT");
        cmd
    }

    /// Runs `docker <args>` and returns its output, successful or not.
    pub async fn run(&self, args: &[&str]) -> CmdOutput {
        process::run(self.command(args), None, CLI_TIMEOUT).await
    }

    /// `docker login` with the password on stdin; the caller checks the outcome.
    pub async fn login(&self, registry: &str, user: &str, password: &str) -> CmdOutput {
        let cmd = self.command(&["login", "--username", user, "--password-stdin", registry]);
        process::run(cmd, Some(password.as_bytes()), CLI_TIMEOUT).await
    }

    pub async fn logout(&self, registry: &str) -> CmdOutput {
        self.run(&["logout", registry]).await
    }

    /// Builds `tag` from scratch with one layer per COPY of `layer_count` random files of
    /// `layer_size` bytes; returns the image id.
    pub async fn build_image(&self, tag: &str, layer_count: usize, layer_size: usize) -> String {
        let context = tempfile::Builder::new()
            .prefix("build-")
            .tempdir_in(self.work.path())
            .expect("creating a build context");
        let mut dockerfile = String::from("FROM scratch\n");
        for i in 0..layer_count {
            let name = format!("layer-{i}.bin");
            std::fs::write(context.path().join(&name), random_bytes(layer_size))
                .expect("writing a layer file");
            dockerfile.push_str(&format!("COPY {name} /data/{name}\n"));
        }
        dockerfile.push_str("CMD [\"/data/layer-0.bin\"]\n");
        std::fs::write(context.path().join("Dockerfile"), dockerfile).expect("writing Dockerfile");
        let context_path = context.path().to_str().expect("utf-8 temp path");
        self.run(&["build", "--quiet", "--tag", tag, context_path])
            .await
            .assert_success();
        self.track(tag);
        self.image_id(tag).await
    }

    /// Imports a single-layer image `tag` whose root filesystem holds `files`
    /// (path relative to `/`, content); returns the image id.
    pub async fn import_image(&self, tag: &str, files: &[(&str, Vec<u8>)]) -> String {
        let dir = tempfile::Builder::new()
            .prefix("rootfs-")
            .tempdir_in(self.work.path())
            .expect("creating a rootfs dir");
        let rootfs = dir.path().join("rootfs");
        for (path, content) in files {
            let target = rootfs.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(target.parent().expect("file inside rootfs"))
                .expect("creating rootfs dirs");
            std::fs::write(&target, content).expect("writing a rootfs file");
        }
        let tarball = dir.path().join("rootfs.tar");
        let mut tar = Command::new("tar");
        tar.arg("-C").arg(&rootfs).arg("-cf").arg(&tarball).arg(".");
        process::run(tar, None, CLI_TIMEOUT).await.assert_success();
        self.run(&["import", tarball.to_str().expect("utf-8 temp path"), tag])
            .await
            .assert_success();
        self.track(tag);
        self.image_id(tag).await
    }

    pub async fn tag(&self, source: &str, target: &str) {
        self.run(&["tag", source, target]).await.assert_success();
        self.track(target);
    }

    /// `docker push`; the caller checks the outcome (some pushes must fail).
    pub async fn push(&self, reference: &str) -> CmdOutput {
        self.run(&["push", reference]).await
    }

    /// `docker pull`; the caller checks the outcome.
    pub async fn pull(&self, reference: &str) -> CmdOutput {
        self.track(reference);
        self.run(&["pull", reference]).await
    }

    /// The local image id (`sha256:...` of the config) of `reference`.
    pub async fn image_id(&self, reference: &str) -> String {
        let out = self
            .run(&["image", "inspect", "--format", "{{.Id}}", reference])
            .await
            .assert_success();
        out.stdout.trim().to_owned()
    }

    pub async fn image_exists(&self, reference: &str) -> bool {
        self.run(&["image", "inspect", reference]).await.success()
    }

    /// Removes local references (`docker rmi`); the image goes once no tag is left.
    pub async fn remove_images(&self, references: &[&str]) {
        let mut args = vec!["rmi"];
        args.extend_from_slice(references);
        self.run(&args).await.assert_success();
    }

    fn track(&self, reference: &str) {
        self.created.lock().unwrap().push(reference.to_owned());
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        // Best effort, synchronous: free the engine's (vfs, so full-copy) image storage.
        let refs = std::mem::take(&mut *self.created.lock().unwrap());
        if refs.is_empty() {
            return;
        }
        let _ = std::process::Command::new("docker")
            .arg("rmi")
            .arg("--force")
            .args(&refs)
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.config.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// `skopeo` with its own temp and auth-file locations and no signature policy file needed
/// (`--insecure-policy`: these tests are about transport, not image trust).
pub struct Skopeo {
    tmp: TempDir,
}

impl Skopeo {
    pub fn new() -> Skopeo {
        Skopeo {
            tmp: tempdir("berth-e2e-skopeo-"),
        }
    }

    /// A scratch directory that lives as long as this helper (e.g. for `oci:` layouts).
    pub fn scratch(&self) -> &Path {
        self.tmp.path()
    }

    /// Runs `skopeo --insecure-policy <args>`; the caller checks the outcome.
    pub async fn run(&self, args: &[&str]) -> CmdOutput {
        let mut cmd = Command::new("skopeo");
        cmd.arg("--insecure-policy")
            .args(args)
            .env("TMPDIR", self.tmp.path())
            .env("REGISTRY_AUTH_FILE", self.tmp.path().join("auth.json"));
        process::run(cmd, None, CLI_TIMEOUT).await
    }
}

impl Default for Skopeo {
    fn default() -> Self {
        Skopeo::new()
    }
}

fn tempdir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("creating a temp dir")
}
