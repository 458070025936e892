//! The `warden` command line: parses, sets up logging, and dispatches to
//! one module per subcommand under `cli/`.

mod cli;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "warden",
    version,
    about = "Real-time behavioural detection for non-human identities"
)]
struct Cli {
    /// Log filter (also RUST_LOG), e.g. `info` or `warden=debug`.
    #[arg(long, global = true, default_value = "info")]
    log: String,
    /// Log lines as text or as JSON objects (for log shippers).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Generate a labelled, time-sorted fleet of agent calls (JSON lines).
    Simulate(cli::simulate::Args),
    /// Run the detection engine over recorded calls; evaluate when labelled.
    Replay(cli::replay::Args),
    /// Convert any input replay reads into Parquet (the canonical event's
    /// Arrow schema), partitioned by UTC day: the fast path for months of
    /// history (`warden replay OUT_DIR`).
    Convert(cli::convert::Args),
    /// Machine identity inventory and access review: what each identity
    /// did, which are dormant, new, unrotated or sharing a credential, and,
    /// with `--grants`, which grants were never used and a least-privilege
    /// replacement
    Inventory(cli::inventory::Args),
    /// Fit behaviour archetypes (k-means over per-agent profiles) from
    /// history and save them, versioned, for `[engine] archetypes`.
    Train(cli::train::Args),
    /// SQL over calls, findings and revocations (DataFusion). Tables:
    /// `calls` (any input replay reads; a Parquet lake is scanned in
    /// place), `calls_coded`, `findings`, `revocations`. Without a
    /// statement: an interactive prompt, or the statements on stdin.
    Query(cli::query::Args),
    /// Pick thresholds from evidence: replay once, sweep the finding and
    /// revocation thresholds (and each detector's weight), recommend a
    /// configuration for a false-finding budget and replay it to check.
    Tune(cli::tune::Args),
    /// Splice real attack records (Stratus techniques, a captured hour) into
    /// simulated principals with steady baselines, and report what is caught.
    Splice(cli::splice::Args),
    /// Run as a streaming service: a consumer-group member on the calls
    /// topic, with outputs, state and metrics on Kafka and HTTP (see
    /// `[stream]` and `[kafka]` in warden.toml). Stops cleanly on SIGTERM/SIGINT.
    Run(cli::run::Args),
    /// Start an in-process Kafka-protocol cluster (librdkafka's mock cluster)
    /// with Warden's topics, print its bootstrap address, serve until stopped.
    DevBroker(cli::dev_broker::Args),
    /// The whole story on one machine, no set-up: an embedded cluster, a
    /// simulated fleet with injected attacks streamed onto it, the service
    /// consuming it, and a live view of what it catches.
    Demo(cli::demo::Args),
    /// Signing keys for revocation Security Event Tokens.
    #[command(subcommand)]
    Keys(cli::keys::Args),
    /// Check Security Event Tokens (a file of them, one per line, or `-`)
    /// against a public key or a JWKS, and print each one's header and
    /// claims: what a receiver will see.
    Verify(cli::verify::Args),
    /// The tamper-evident decision log: `warden audit verify LOG --jwks F`.
    #[command(subcommand)]
    Audit(cli::audit::Args),
    /// Analysts' suppressions: `add`, `list`, `remove` (a file, and the
    /// suppressions topic `warden run` follows).
    #[command(subcommand)]
    Suppress(cli::suppress::Args),
    /// Guardrail policies: `warden policy check FILE...` validates a set
    /// offline (the file and position of the first error, or its rules).
    #[command(subcommand)]
    Policy(cli::policy::Args),
    /// Print the default configuration (the documented `warden.toml`).
    DefaultConfig,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.log));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => fmt.init(),
        LogFormat::Json => fmt.json().init(),
    }
    match cli.cmd {
        Cmd::Simulate(a) => cli::simulate::run(a),
        Cmd::Replay(a) => cli::replay::run(a),
        Cmd::Convert(a) => cli::convert::run(a),
        Cmd::Inventory(a) => cli::inventory::run(a),
        Cmd::Train(a) => cli::train::run(a),
        Cmd::Query(a) => cli::query::run(a),
        Cmd::Tune(a) => cli::tune::run(a),
        Cmd::Splice(a) => cli::splice::run(a),
        Cmd::Run(a) => cli::run::run(a),
        Cmd::DevBroker(a) => cli::dev_broker::run(a),
        Cmd::Demo(a) => cli::demo::run(a),
        Cmd::Keys(a) => cli::keys::run(a),
        Cmd::Verify(a) => cli::verify::run(a),
        Cmd::Audit(a) => cli::audit::run(a),
        Cmd::Suppress(a) => cli::suppress::run(a),
        Cmd::Policy(a) => cli::policy::run(a),
        Cmd::DefaultConfig => {
            print!("{}", include_str!("../warden.toml"));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every subcommand's arguments are well formed (a positional named
    /// like a global flag, for one, panics only when that command runs).
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
