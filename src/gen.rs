//! Synthetic worlds and request streams for benchmarks and load tests (`keyward gen`): any size,
//! deterministic for a seed, and shaped like real accounts — default and console-style key
//! policies, AWS-managed-style keys, cross-account keys, grants with encryption-context
//! constraints, aliases, identity policies with `kms:ViaService` and resource conditions, groups,
//! and a realistic mix of allowed and denied requests.

use serde_json::{json, Value};

/// A small deterministic random number generator (SplitMix64): the same seed gives the same
/// world on every machine and every version of the crates.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Parameters of a synthetic world.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub keys: usize,
    pub principals: usize,
    pub seed: u64,
}

const REGIONS: &[&str] = &["us-east-1", "us-west-2", "eu-west-1"];
const SERVICES: &[&str] = &["s3", "ec2", "rds", "secretsmanager", "dynamodb"];
const TEAMS: &[&str] = &["payments", "search", "identity", "data", "platform"];

/// A generated principal, as the request generator needs it.
#[derive(Clone, Debug)]
struct Who {
    /// The ARN requests use (a session for roles).
    caller: String,
    account: usize,
}

/// A generated key, as the request generator needs it.
#[derive(Clone, Debug)]
struct KeyInfo {
    arn: String,
    alias: String,
    region: &'static str,
    team: usize,
    /// Grant ids on this key and their grantee's index in `whos`.
    grants: Vec<(String, usize)>,
    /// The principals (indexes in `whos`) the key policy names as key users.
    users: Vec<usize>,
    /// Which kind of key policy it has (see `world`).
    kind: usize,
}

/// A synthetic world and what requests need to know about it.
pub struct Generated {
    pub world: Value,
    whos: Vec<Who>,
    keys: Vec<KeyInfo>,
    accounts: Vec<String>,
    /// VPC endpoint ids requests may come through (see [`Generated::add_guardrails`]).
    endpoints: Vec<String>,
}

/// Parameters of a generated organization's guardrails (docs/guardrails.md).
#[derive(Clone, Copy, Debug, Default)]
pub struct Guardrails {
    /// OU levels between the root and each account (0: no organization guardrails).
    pub org_depth: usize,
    /// SCPs attached at each root, OU and account, besides FullAWSAccess.
    pub scps_per_level: usize,
    /// RCPs attached at each root, OU and account.
    pub rcps_per_level: usize,
    /// KMS VPC endpoints; about a third of the requests come through one.
    pub endpoints: usize,
}

/// The SCP statements generated worlds attach: denials that real organizations use and that
/// ordinary traffic rarely meets.
fn scp_statement(k: usize) -> Value {
    match k % 5 {
        0 => {
            json!({"Sid": "ProtectKeys", "Effect": "Deny", "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey"], "Resource": "*",
                    "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin-*"}}})
        }
        1 => {
            json!({"Sid": "TagNewKeys", "Effect": "Deny", "Action": "kms:CreateKey", "Resource": "*",
                    "Condition": {"Null": {"aws:RequestTag/team": "true"}}})
        }
        2 => json!({"Sid": "NoOptInRegion", "Effect": "Deny", "Action": "kms:*", "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": "ap-south-2"}}}),
        3 => {
            json!({"Sid": "MfaForSharing", "Effect": "Deny", "Action": ["kms:PutKeyPolicy", "kms:CreateGrant"], "Resource": "*",
                    "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}})
        }
        _ => {
            json!({"Sid": "NoImport", "Effect": "Deny", "Action": ["kms:ImportKeyMaterial", "kms:DeleteImportedKeyMaterial"], "Resource": "*"})
        }
    }
}

/// The RCP statements generated worlds attach.
fn rcp_statement(k: usize, org: &str) -> Value {
    match k % 2 {
        0 => {
            json!({"Sid": "Perimeter", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
                    "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": org},
                                  "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}})
        }
        _ => {
            json!({"Sid": "LongDeletionWindow", "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
                    "Condition": {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": "14"}}})
        }
    }
}

fn account_id(i: usize) -> String {
    format!("{:012}", 111_122_223_333u64 + i as u64 * 1_000_001)
}

/// Generates a world of `shape.keys` keys and `shape.principals` principals.
pub fn world(shape: Shape) -> Generated {
    let mut rng = Rng::new(shape.seed);
    let n_accounts = (shape.keys / 2_000).clamp(2, 20);
    let accounts: Vec<String> = (0..n_accounts).map(account_id).collect();
    let org = "o-a1b2c3d4e5";
    // The last account is outside the organization: the "partner" account of cross-account keys.
    let account_values: Vec<Value> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if i + 1 < accounts.len() {
                json!({"id": a, "org_id": org, "org_paths": [format!("{org}/r-ab12/ou-ab12-{:08}/", i)]})
            } else {
                json!({"id": a})
            }
        })
        .collect();

    let mut whos = Vec::with_capacity(shape.principals);
    let mut principals = Vec::with_capacity(shape.principals);
    let mut groups = Vec::new();
    for account in &accounts {
        for team in TEAMS {
            groups.push(json!({
                "arn": format!("arn:aws:iam::{account}:group/{team}-devs"),
                "policies": [{"Version": "2012-10-17", "Statement": [
                    {"Sid": "DescribeTeamKeys", "Effect": "Allow", "Action": ["kms:DescribeKey", "kms:List*"], "Resource": "*"}
                ]}]
            }));
        }
    }
    for i in 0..shape.principals {
        let a = rng.below(accounts.len());
        let account = &accounts[a];
        let team = rng.below(TEAMS.len());
        let admin = rng.chance(0.05);
        let is_role = rng.chance(0.7);
        let region = *rng.pick(REGIONS);
        let mut statements = Vec::new();
        if admin {
            statements.push(
                json!({"Sid": "KeyAdmin", "Effect": "Allow", "Action": "kms:*", "Resource": "*"}),
            );
            statements.push(json!({"Sid": "NoDeletionOutsideBreakGlass", "Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}}));
        } else {
            match rng.below(4) {
                0 => statements.push(json!({"Sid": "UseTeamKeys", "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                    "Resource": format!("arn:aws:kms:*:{account}:key/*"),
                    "Condition": {"StringEquals": {"aws:ResourceTag/team": TEAMS[team]}}})),
                1 => statements.push(json!({"Sid": "UseViaService", "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
                    "Condition": {"StringLike": {"kms:ViaService": format!("{}.*.amazonaws.com", SERVICES[team % SERVICES.len()])}}})),
                2 => statements.push(json!({"Sid": "UseRegionKeys", "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                    "Resource": format!("arn:aws:kms:{region}:{account}:key/*")})),
                _ => statements.push(json!({"Sid": "ReadOnly", "Effect": "Allow",
                    "Action": ["kms:Describe*", "kms:Get*", "kms:List*"], "Resource": "*"})),
            }
            if rng.chance(0.2) {
                statements.push(json!({"Sid": "DenyWithoutContext", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*",
                    "Condition": {"Null": {"kms:EncryptionContextKeys": "true"}}}));
            }
        }
        let name = format!("{}-{}{i}", TEAMS[team], if admin { "admin" } else { "app" });
        let policies = json!([{"Version": "2012-10-17", "Statement": statements}]);
        let tags = json!({"team": TEAMS[team]});
        if is_role {
            let arn = format!("arn:aws:iam::{account}:role/service/{name}");
            principals.push(json!({"arn": arn, "policies": policies, "tags": tags}));
            whos.push(Who {
                caller: format!("arn:aws:sts::{account}:assumed-role/{name}/session-{i}"),
                account: a,
            });
        } else {
            let arn = format!("arn:aws:iam::{account}:user/{name}");
            let group = format!("arn:aws:iam::{account}:group/{}-devs", TEAMS[team]);
            principals
                .push(json!({"arn": arn, "policies": policies, "groups": [group], "tags": tags}));
            whos.push(Who {
                caller: arn,
                account: a,
            });
        }
    }

    let mut roles_by_account: Vec<Vec<usize>> = vec![Vec::new(); accounts.len()];
    for (i, w) in whos.iter().enumerate() {
        if w.caller.contains(":assumed-role/") {
            roles_by_account[w.account].push(i);
        }
    }
    let mut keys = Vec::with_capacity(shape.keys);
    let mut key_values = Vec::with_capacity(shape.keys);
    let mut grants = Vec::new();
    let partner = accounts.len() - 1;
    for k in 0..shape.keys {
        let a = rng.below(accounts.len().max(2) - 1);
        let account = &accounts[a];
        let region = *rng.pick(REGIONS);
        let team = rng.below(TEAMS.len());
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rng.next_u64() as u32,
            k % 0xffff,
            k % 0xfff,
            (k / 7) % 0xfff,
            rng.next_u64() & 0xffff_ffff_ffff
        );
        let arn = format!("arn:aws:kms:{region}:{account}:key/{id}");
        let alias = format!("alias/{}-{k}", TEAMS[team]);
        let root = json!({"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "kms:*", "Resource": "*"});
        // Roles of the key's account and team become its key users and administrators.
        let local = &roles_by_account[a];
        let members: Vec<usize> = if local.is_empty() {
            Vec::new()
        } else {
            (0..3).map(|_| local[rng.below(local.len())]).collect()
        };
        let role_arn = |w: usize| -> Option<String> {
            let who: &Who = &whos[w];
            let rest = who
                .caller
                .strip_prefix(&format!("arn:aws:sts::{account}:assumed-role/"))?;
            let name = rest.split('/').next()?;
            Some(format!("arn:aws:iam::{account}:role/service/{name}"))
        };
        let users: Vec<String> = members.iter().filter_map(|&w| role_arn(w)).collect();
        let kind = rng.below(10);
        let mut statements = vec![root];
        match kind {
            // Console default: administrators, users, persistent resources.
            0..=4 => {
                if !users.is_empty() {
                    statements.push(json!({"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": users.clone()},
                        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}));
                    statements.push(json!({"Sid": "Allow attachment of persistent resources", "Effect": "Allow", "Principal": {"AWS": users},
                        "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], "Resource": "*",
                        "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}}));
                }
            }
            // AWS-managed style: everyone in the account, through one service.
            5 | 6 => {
                let svc = SERVICES[team % SERVICES.len()];
                statements.push(json!({"Sid": "Allow access through the service", "Effect": "Allow", "Principal": {"AWS": "*"},
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*",
                    "Condition": {"StringEquals": {"kms:CallerAccount": account, "kms:ViaService": format!("{svc}.{region}.amazonaws.com")}}}));
            }
            // Shared with the partner account.
            7 => {
                statements.push(json!({"Sid": "Allow an external account", "Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{}:root", accounts[partner])},
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}));
            }
            // Encryption context required, and protected from deletion.
            _ => {
                statements.push(json!({"Sid": "Require encryption context", "Effect": "Deny", "Principal": "*",
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
                    "Condition": {"StringNotEquals": {"kms:EncryptionContext:team": TEAMS[team]}}}));
                statements.push(json!({"Sid": "Protect from deletion", "Effect": "Deny", "Principal": {"AWS": "*"},
                    "Action": ["kms:ScheduleKeyDeletion", "kms:DisableKey"], "Resource": "*",
                    "Condition": {"StringNotLike": {"aws:PrincipalArn": format!("arn:aws:iam::{account}:role/service/*admin*")}}}));
            }
        }
        let mut key_grants = Vec::new();
        if rng.chance(0.15) && !whos.is_empty() {
            let w = rng.below(whos.len());
            let grant_id = format!("{:016x}{:016x}", rng.next_u64(), k);
            let grantee = match whos[w].caller.split_once(":assumed-role/") {
                Some((prefix, rest)) => format!(
                    "{}:role/service/{}",
                    prefix.replace(":sts:", ":iam:"),
                    rest.split('/').next().unwrap_or("")
                ),
                None => whos[w].caller.clone(),
            };
            grants.push(json!({"KeyId": arn, "GrantId": grant_id, "Name": format!("grant-{k}"), "GranteePrincipal": grantee,
                "IssuingAccount": format!("arn:aws:iam::{account}:root"), "Operations": ["Decrypt", "GenerateDataKey", "DescribeKey"],
                "Constraints": {"EncryptionContextSubset": {"team": TEAMS[team]}}}));
            key_grants.push((grant_id, w));
        }
        let state = if rng.chance(0.02) {
            "Disabled"
        } else {
            "Enabled"
        };
        key_values.push(json!({
            "arn": arn, "aliases": [alias], "tags": {"team": TEAMS[team]},
            "metadata": {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Origin": "AWS_KMS", "MultiRegion": false, "KeyState": state},
            "policy": {"Version": "2012-10-17", "Id": "key-consolepolicy-3", "Statement": statements},
        }));
        keys.push(KeyInfo {
            arn,
            alias,
            region,
            team,
            grants: key_grants,
            users: members,
            kind,
        });
    }
    let world = json!({"accounts": account_values, "keys": key_values, "principals": principals, "groups": groups, "grants": grants});
    Generated {
        world,
        whos,
        keys,
        accounts,
        endpoints: Vec::new(),
    }
}

impl Generated {
    /// Puts the organization's accounts `g.org_depth` OUs deep and attaches FullAWSAccess,
    /// `g.scps_per_level` SCPs and `g.rcps_per_level` RCPs at every root, OU and account; adds
    /// `g.endpoints` VPC endpoints (every third with the default policy, the others allowing the
    /// organization only).
    pub fn add_guardrails(&mut self, g: Guardrails) {
        let org = "o-a1b2c3d4e5";
        let root = "r-ab12";
        let members = self.accounts.len() - 1;
        if g.org_depth > 0 {
            let mut levels: Vec<String> = vec![root.into()];
            let mut accounts = Vec::new();
            for (i, a) in self.accounts.iter().enumerate() {
                if i == members {
                    accounts.push(json!({"id": a}));
                    continue;
                }
                // A binary tree of OUs: account i sits under OU (j, i >> (depth - j)) at level j.
                let ous: Vec<String> = (1..=g.org_depth)
                    .map(|j| format!("ou-ab12-{j}{:07}", i >> (g.org_depth - j)))
                    .collect();
                for ou in &ous {
                    if !levels.contains(ou) {
                        levels.push(ou.clone());
                    }
                }
                levels.push(a.clone());
                accounts.push(json!({"id": a, "org_id": org, "org_paths": [format!("{org}/{root}/{}/", ous.join("/"))]}));
            }
            let mut policies = vec![
                json!({"Id": "p-FullAWSAccess", "Name": "FullAWSAccess", "Type": "SERVICE_CONTROL_POLICY",
                "Content": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                "Targets": levels}),
            ];
            for (n, level) in levels.iter().enumerate() {
                for k in 0..g.scps_per_level {
                    policies.push(json!({"Id": format!("p-scp{n}x{k}"), "Type": "SERVICE_CONTROL_POLICY",
                        "Content": {"Version": "2012-10-17", "Statement": [scp_statement(n + k)]}, "Targets": [level]}));
                }
                for k in 0..g.rcps_per_level {
                    policies.push(json!({"Id": format!("p-rcp{n}x{k}"), "Type": "RESOURCE_CONTROL_POLICY",
                        "Content": {"Version": "2012-10-17", "Statement": [rcp_statement(n + k, org)]}, "Targets": [level]}));
                }
            }
            self.world["accounts"] = json!(accounts);
            self.world["organizations"] = json!([{"id": org, "root": root}]);
            self.world["organization_policies"] = json!(policies);
        }
        let mut endpoints = Vec::new();
        for i in 0..g.endpoints {
            let id = format!("vpce-{:017x}", 0x0a1b_2c3d_u64 + i as u64);
            let mut e = json!({"VpcEndpointId": id, "VpcId": format!("vpc-{:08x}", 0x11aa_22bb_u64 + i as u64),
                               "ServiceName": "com.amazonaws.us-east-1.kms"});
            if i % 3 != 0 {
                e["PolicyDocument"] = json!({"Version": "2012-10-17", "Statement": [
                    {"Sid": "Organization", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
                     "Condition": {"StringEquals": {"aws:PrincipalOrgID": org}}},
                    {"Sid": "NoDeletion", "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}]});
            }
            endpoints.push(e);
            self.endpoints.push(id);
        }
        if !endpoints.is_empty() {
            self.world["vpc_endpoints"] = json!(endpoints);
        }
    }

    /// `count` requests against this world, shaped like real traffic: keys are used with a
    /// Zipf-like skew (a few hot keys carry most calls); most calls are cryptographic operations
    /// by the key's own users, through the service its policy expects and with the encryption
    /// context it requires; the rest are management calls, callers from the partner account and
    /// strangers, so every kind of decision appears.
    pub fn requests(&self, count: usize, seed: u64) -> Vec<Value> {
        let mut rng = Rng::new(seed.wrapping_add(0x5EED));
        let mut out = Vec::with_capacity(count);
        let n = self.keys.len();
        if n == 0 || self.whos.is_empty() {
            return out;
        }
        let partner = self.accounts.len() - 1;
        let partners: Vec<usize> = (0..self.whos.len())
            .filter(|&w| self.whos[w].account == partner)
            .collect();
        for _ in 0..count {
            // Rank r with probability about 1/(r+1): N^u - 1 for u uniform in [0, 1).
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let rank = ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1);
            let key = &self.keys[rank.wrapping_mul(7_919) % n];
            let svc = SERVICES[key.team % SERVICES.len()];
            let mut who = match key.kind {
                0..=4 if !key.users.is_empty() && rng.chance(0.8) => {
                    key.users[rng.below(key.users.len())]
                }
                7 if !partners.is_empty() && rng.chance(0.6) => partners[rng.below(partners.len())],
                _ => rng.below(self.whos.len()),
            };
            let action = match rng.below(20) {
                0..=7 => "kms:Decrypt",
                8..=10 => "kms:Encrypt",
                11..=14 => "kms:GenerateDataKey",
                15 | 16 => "kms:DescribeKey",
                17 => "kms:CreateGrant",
                18 => "kms:ScheduleKeyDeletion",
                _ => "kms:ListKeys",
            };
            let mut ec = Some(json!({"team": TEAMS[key.team]}));
            let mut ctx = serde_json::Map::new();
            match key.kind {
                5 | 6 if rng.chance(0.85) => {
                    ctx.insert(
                        "kms:ViaService".into(),
                        json!(format!("{svc}.{}.amazonaws.com", key.region)),
                    );
                }
                8 | 9 if rng.chance(0.1) => {
                    ec = Some(json!({"team": TEAMS[(key.team + 1) % TEAMS.len()]}))
                }
                _ => {}
            }
            if action == "kms:CreateGrant" && rng.chance(0.7) {
                ctx.insert(
                    "kms:ViaService".into(),
                    json!(format!("ec2.{}.amazonaws.com", key.region)),
                );
                ctx.insert("kms:GrantOperations".into(), json!(["Decrypt"]));
            }
            if rng.chance(0.15) {
                ctx.insert(
                    "aws:SourceIp".into(),
                    json!(format!("203.0.113.{}", rng.below(255))),
                );
            }
            if rng.chance(0.1) {
                ctx.insert("aws:MultiFactorAuthPresent".into(), json!(rng.chance(0.5)));
            }
            let mut resource = key.arn.clone();
            if rng.chance(0.15) {
                if let Some(colon) = key.arn.rfind(':') {
                    resource = format!("{}:{}", &key.arn[..colon], key.alias);
                }
            }
            if let Some((_, w)) = key.grants.first().filter(|_| rng.chance(0.3)) {
                // The grantee uses its grant.
                who = *w;
                ec = Some(json!({"team": TEAMS[key.team]}));
            }
            if !self.endpoints.is_empty() && rng.chance(0.3) {
                let e = &self.endpoints[rng.below(self.endpoints.len())];
                ctx.insert("aws:SourceVpce".into(), json!(e));
            }
            let mut request =
                json!({"principal": self.whos[who].caller, "action": action, "resource": resource});
            if action == "kms:ListKeys" {
                request["resource"] = json!("*");
            }
            if !ctx.is_empty() {
                request["context"] = Value::Object(ctx);
            }
            if let Some(ec) = ec.filter(|_| {
                matches!(
                    action,
                    "kms:Decrypt" | "kms:Encrypt" | "kms:GenerateDataKey"
                )
            }) {
                request["encryption_context"] = ec;
            }
            out.push(request);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_loadable() {
        let shape = Shape {
            keys: 50,
            principals: 40,
            seed: 7,
        };
        let a = world(shape);
        let b = world(shape);
        assert_eq!(a.world, b.world);
        assert_eq!(a.requests(100, 7), b.requests(100, 7));
        let w = crate::World::from_value(&a.world, "generated").unwrap();
        assert_eq!(w.keys.len(), 50);
        assert_eq!(w.principals.len(), 40);
        for r in a.requests(200, 7) {
            crate::Request::from_value(&r).unwrap();
        }
    }

    #[test]
    fn guardrails_load_and_decide() {
        let mut g = world(Shape {
            keys: 60,
            principals: 40,
            seed: 3,
        });
        g.add_guardrails(Guardrails {
            org_depth: 3,
            scps_per_level: 5,
            rcps_per_level: 2,
            endpoints: 4,
        });
        let w = crate::World::from_value(&g.world, "generated").unwrap();
        assert_eq!(w.vpc_endpoints.len(), 4);
        let chain = w.chain(&g.accounts[0]).unwrap();
        assert_eq!(chain.scp_levels.len(), 5, "root, three OUs, the account");
        assert!(chain.scp_levels.iter().all(|l| l.policies.len() == 6));
        assert_eq!(chain.rcps.len(), 10);
        let engine = crate::engine::Engine::compile(w);
        let requests = g.requests(300, 3);
        assert!(requests
            .iter()
            .any(|r| r["context"]["aws:SourceVpce"].is_string()));
        for r in requests {
            let (req, _) = crate::Request::from_value(&r).unwrap();
            assert_eq!(
                engine.decide(&req),
                crate::reference::evaluate(engine.world(), &req)
            );
        }
    }
}
