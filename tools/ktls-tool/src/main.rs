use clap::Parser;
use ktls_tool::cli::{Cli, Command, RoleArg};
use ktls_tool::pattern::{Pattern, Role};
use std::process::ExitCode;

/// Exit status when the received data did not match (distinct from other failures).
const EXIT_MISMATCH: u8 = 1;
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (result, common) = match &cli.command {
        Command::Pattern {
            role,
            size,
            command,
            command_every,
        } => {
            let role = match role {
                RoleArg::Client => Role::Client,
                RoleArg::Server => Role::Server,
            };
            if let (Some(command), Some(every)) = (command, command_every) {
                let pattern = Pattern::new(role);
                return match ktls_tool::pattern::write_paced(&pattern, *size, command, *every) {
                    Ok(commands) => {
                        eprintln!("ktls-tool pattern: {commands} commands written");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("ktls-tool: writing the pattern: {e}");
                        ExitCode::from(EXIT_ERROR)
                    }
                };
            }
            let stdout = std::io::stdout();
            return match Pattern::new(role).write_to(*size, &mut stdout.lock()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ktls-tool: writing the pattern: {e}");
                    ExitCode::from(EXIT_ERROR)
                }
            };
        }
        Command::Serve {
            dir,
            listen,
            tls,
            cipher,
            cert,
            key,
            count,
        } => {
            let options = ktls_tool::serve::ServeOptions {
                listen,
                dir,
                tls: *tls,
                cipher: *cipher,
                cert,
                key,
                count: *count,
            };
            return match ktls_tool::serve::serve(&options) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ktls-tool serve: {e}");
                    ExitCode::from(EXIT_ERROR)
                }
            };
        }
        Command::Server { listen, common } => {
            (ktls_tool::session::run_server(listen, common), common)
        }
        Command::Client {
            connect,
            server_name,
            common,
        } => (
            ktls_tool::session::run_client(connect, server_name.as_deref(), common),
            common,
        ),
    };
    match result {
        Ok(report) => {
            if common.json {
                println!("{}", report.to_json());
            } else {
                println!("{}", report.summary());
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_MISMATCH)
            }
        }
        Err(e) => {
            eprintln!("ktls-tool: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
