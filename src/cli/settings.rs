//! `systrade config show`: the effective configuration with the source of each value.

use clap::{Args, Subcommand};
use serde_json::json;

use super::context::{load_config, resolve_home, GlobalOpts};
use super::output::{print_json, table};
use crate::config::{env_name, is_secret};

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Effective config: every key, its value (secrets redacted) and where it came from.
    Show {
        /// Print the result as JSON on stdout (one document; for scripts) instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn config(opts: &GlobalOpts, a: ConfigArgs) -> anyhow::Result<i32> {
    let ConfigCommand::Show { json: json_out } = a.command;
    let home = resolve_home(opts)?;
    let config = load_config(&home)?;
    let shown = |key: &str, v: &toml::Value| {
        if is_secret(key) {
            "***".to_string()
        } else {
            v.to_string()
        }
    };
    if json_out {
        let entries: Vec<_> = config
            .entries
            .iter()
            .map(|(k, (v, s))| json!({ "key": k, "value": if is_secret(k) { json!("***") } else { json!(v) }, "source": s, "env": env_name(k) }))
            .collect();
        print_json(
            &json!({ "home": home.root, "config_file": home.config_path(), "entries": entries }),
        )?;
    } else {
        outln!("home: {}", home.root.display());
        let rows: Vec<Vec<String>> = config
            .entries
            .iter()
            .map(|(k, (v, s))| vec![k.clone(), shown(k, v), s.to_string()])
            .collect();
        out!("{}", table(&["KEY", "VALUE", "SOURCE"], &rows));
    }
    Ok(0)
}
