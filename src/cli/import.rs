//! `keyward import`: a world from the AWS CLI's JSON outputs.

use crate::replay::import::{Importer, Kind};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `keyward import --help` says after the options.
const AFTER_HELP: &str = "\
Builds a world (docs/formats.md) from what the AWS CLI prints, unchanged:

  aws kms describe-key --key-id K                          > keys/K/describe-key.json
  aws kms get-key-policy --key-id K --policy-name default  > keys/K/key-policy.json
  aws kms list-resource-tags --key-id K                    > keys/K/tags.json
  aws kms list-grants --key-id K                           > keys/K/grants.json
  aws kms list-aliases                                     > aliases.json
  aws iam get-account-authorization-details                > authorization-details.json
  aws organizations describe-organization                  > org/describe-organization.json
  aws organizations list-roots                             > org/list-roots.json
  aws organizations list-organizational-units-for-parent --parent-id P > org/parents/P/ous.json
  aws organizations list-accounts-for-parent --parent-id P > org/parents/P/accounts.json
  aws organizations list-policies --filter SERVICE_CONTROL_POLICY     > org/scps.json
  aws organizations describe-policy --policy-id ID         > org/policies/ID/policy.json
  aws organizations list-targets-for-policy --policy-id ID > org/policies/ID/targets.json
  aws ec2 describe-vpc-endpoints                           > vpc-endpoints.json
  keyward import . --out world.json

PATHS are files or folders (read recursively); each file is recognized by its shape, and the
options name a file's kind explicitly. Some outputs do not say what they belong to: give
get-key-policy and list-resource-tags outputs as KEY=FILE (KEY a key id or ARN), list-…-for-parent
outputs as PARENT=FILE (--list-ous-for-parent, --list-accounts-for-parent) and list-targets-for-policy
outputs as POLICY=FILE (--list-targets-for-policy), or keep the key, root, OU or policy id in the
file or folder name, as above (docs/guardrails.md). Attached managed policies are read from the Policies of the authorization
details (their default version). The world is written only if it loads; every problem is reported
with its file. Exit codes: 0 written, 2 on any error.";

/// Arguments of `keyward import` (the long help is [`AFTER_HELP`]).
#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Output of `aws kms describe-key`.
    #[arg(long, value_name = "FILE")]
    describe_key: Vec<PathBuf>,
    /// Output of `aws kms get-key-policy`, as [KEY=]FILE.
    #[arg(long, value_name = "[KEY=]FILE")]
    key_policy: Vec<String>,
    /// Output of `aws kms list-grants`.
    #[arg(long, value_name = "FILE")]
    list_grants: Vec<PathBuf>,
    /// Output of `aws kms list-aliases`.
    #[arg(long, value_name = "FILE")]
    list_aliases: Vec<PathBuf>,
    /// Output of `aws kms list-resource-tags`, as [KEY=]FILE.
    #[arg(long, value_name = "[KEY=]FILE")]
    list_resource_tags: Vec<String>,
    /// Output of `aws kms list-keys` (maps key ids to ARNs).
    #[arg(long, value_name = "FILE")]
    list_keys: Vec<PathBuf>,
    /// Output of `aws iam get-account-authorization-details` (several pages may be given).
    #[arg(long, value_name = "FILE")]
    authorization_details: Vec<PathBuf>,
    /// Output of `aws organizations list-organizational-units-for-parent`, as [PARENT=]FILE
    /// (PARENT the root or OU id given as --parent-id).
    #[arg(long, value_name = "[PARENT=]FILE")]
    list_ous_for_parent: Vec<String>,
    /// Output of `aws organizations list-accounts-for-parent`, as [PARENT=]FILE.
    #[arg(long, value_name = "[PARENT=]FILE")]
    list_accounts_for_parent: Vec<String>,
    /// Output of `aws organizations list-targets-for-policy`, as [POLICY=]FILE (POLICY the
    /// policy id given as --policy-id).
    #[arg(long, value_name = "[POLICY=]FILE")]
    list_targets_for_policy: Vec<String>,
    /// Where to write the world (`-` for standard output).
    #[arg(long, short)]
    out: PathBuf,
    /// Files or folders of outputs, recognized by their shape.
    #[arg(value_name = "PATHS")]
    paths: Vec<PathBuf>,
}

/// Splits `KEY=FILE`; a plain path (even one holding `=`) when no such file exists as written.
fn key_and_file(arg: &str) -> (Option<&str>, &Path) {
    if Path::new(arg).exists() {
        return (None, Path::new(arg));
    }
    match arg.split_once('=') {
        Some((key, file)) if !key.is_empty() => (Some(key), Path::new(file)),
        _ => (None, Path::new(arg)),
    }
}

pub fn run(args: Args) -> u8 {
    let mut importer = Importer::new();
    let plain = [
        (&args.describe_key, Kind::DescribeKey),
        (&args.list_grants, Kind::ListGrants),
        (&args.list_aliases, Kind::ListAliases),
        (&args.list_keys, Kind::ListKeys),
        (&args.authorization_details, Kind::AuthorizationDetails),
    ];
    let given = plain.iter().map(|(v, _)| v.len()).sum::<usize>()
        + args.key_policy.len()
        + args.list_resource_tags.len()
        + args.list_ous_for_parent.len()
        + args.list_accounts_for_parent.len()
        + args.list_targets_for_policy.len()
        + args.paths.len();
    if given == 0 {
        eprintln!("keyward: nothing to import: give AWS CLI outputs as PATHS or with the options (see --help)");
        return super::BAD_INPUT;
    }
    for (files, kind) in plain {
        for f in files {
            importer.add_path(f, Some(kind), None);
        }
    }
    for (args, kind) in [
        (&args.key_policy, Kind::KeyPolicy),
        (&args.list_resource_tags, Kind::ListResourceTags),
        (&args.list_ous_for_parent, Kind::ListOrganizationalUnits),
        (&args.list_accounts_for_parent, Kind::ListAccountsForParent),
        (&args.list_targets_for_policy, Kind::ListTargetsForPolicy),
    ] {
        for a in args {
            let (key, file) = key_and_file(a);
            importer.add_path(file, Some(kind), key);
        }
    }
    for p in &args.paths {
        importer.add_path(p, None, None);
    }
    let mut imported = importer.finish();
    if imported.errors.is_empty() {
        match crate::world::World::from_value(&imported.world, "imported world") {
            Ok(w) => imported
                .warnings
                .extend(w.warnings.iter().map(|f| f.to_string())),
            Err(e) => imported
                .errors
                .extend(e.errors.iter().map(|f| f.to_string())),
        }
    }
    for w in &imported.warnings {
        eprintln!("keyward: warning: {w}");
    }
    if !imported.errors.is_empty() {
        for e in &imported.errors {
            eprintln!("keyward: {e}");
        }
        eprintln!(
            "keyward: no world written ({} errors)",
            imported.errors.len()
        );
        return super::BAD_INPUT;
    }
    let text = serde_json::to_string_pretty(&imported.world).unwrap_or_default() + "\n";
    let written = if args.out == Path::new("-") {
        std::io::stdout().lock().write_all(text.as_bytes())
    } else {
        std::fs::write(&args.out, text)
    };
    if let Err(e) = written {
        eprintln!("keyward: cannot write {}: {e}", args.out.display());
        return super::BAD_INPUT;
    }
    let count = |k: &str| {
        imported
            .world
            .get(k)
            .and_then(|v| v.as_array())
            .map_or(0, Vec::len)
    };
    eprintln!(
        "keyward: wrote {} ({} keys, {} grants, {} principals, {} groups)",
        args.out.display(),
        count("keys"),
        count("grants"),
        count("principals"),
        count("groups")
    );
    super::OK
}
