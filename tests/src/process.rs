//! Running external commands (docker, skopeo, psql, curl) with a time limit and their
//! output captured for assertions and failure messages.

use std::fmt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct CmdOutput {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Fails the test, showing the command and its output, unless it exited 0.
    #[track_caller]
    pub fn assert_success(self) -> CmdOutput {
        assert!(self.success(), "command failed: {self}");
        self
    }

    /// Fails the test if the command exited 0 (for commands that must be refused).
    #[track_caller]
    pub fn assert_failure(self) -> CmdOutput {
        assert!(!self.success(), "command should have failed: {self}");
        self
    }

    /// stdout and stderr together, for "did it say X" checks.
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` -> {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion, feeding it `stdin` if given. A command still running after
/// `limit` is killed and fails the test, so a hung client cannot stall the suite.
pub async fn run(mut cmd: Command, stdin: Option<&[u8]>, limit: Duration) -> CmdOutput {
    let description = describe(&cmd);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{description}`: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin was piped");
        pipe.write_all(input)
            .await
            .unwrap_or_else(|e| panic!("writing stdin of `{description}`: {e}"));
        // Dropping the pipe closes it, so the command sees end of input.
    }
    let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(result) => result.unwrap_or_else(|e| panic!("waiting for `{description}`: {e}")),
        // The future owned the child; dropping it kills the command (kill_on_drop).
        Err(_) => panic!("`{description}` did not finish within {limit:?}"),
    };
    CmdOutput {
        command: description,
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn describe(cmd: &Command) -> String {
    let std = cmd.as_std();
    let mut parts = vec![std.get_program().to_string_lossy().into_owned()];
    parts.extend(std.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}
