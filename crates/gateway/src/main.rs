//! `berth`: the registry server and its administrative subcommands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway::config::{Config, Overrides};

/// jemalloc instead of glibc's malloc: each password check (argon2id) allocates about
/// 19 MiB; glibc kept that memory in the arena of every thread that had ever hashed, so
/// a few logins left the idle server at twice its starting size. jemalloc's background
/// thread hands freed pages back to the kernel (settings in `.cargo/config.toml`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "A multi-tenant OCI container registry"
)]
struct Cli {
    /// TOML configuration file; BERTH_* environment variables and flags override it
    #[arg(long, short, global = true, env = "BERTH_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry (migrates the database first)
    Serve {
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Apply database migrations and exit
    Migrate {
        #[command(flatten)]
        overrides: Overrides,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = match &cli.command {
        Command::Serve { overrides } | Command::Migrate { overrides } => overrides,
    };
    let config = match Config::load(cli.config.as_deref(), overrides) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("berth: {err}");
            return ExitCode::from(2);
        }
    };
    gateway::telemetry::init(&config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("berth: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { .. } => gateway::serve(config).await,
            Command::Migrate { .. } => gateway::migrate(&config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("berth: {err:#}");
            ExitCode::FAILURE
        }
    }
}
