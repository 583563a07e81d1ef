//! Real CloudTrail records from `../shared/corpus-public/cloudtrail/` (when present): every
//! record maps to a request or is reported with its reason, and the mapping of 42 of them is
//! checked field by field against the records as published. Skips, saying so, when the folder is
//! absent.

use keyward::replay::map::{map_record, Mapping};
use keyward::replay::read::{self, Visit};
use keyward::replay::record::Record;
use keyward::replay::{At, Bad};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus-public/cloudtrail");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is absent", dir.display());
        None
    }
}

/// What became of one record: its request as the request format (docs/formats.md) JSON, or the reason it was not one.
#[derive(Debug, Clone)]
enum Seen {
    Request(Value),
    Skipped(String),
    Bad(String, String),
}

/// Maps every record; keys are (file name without `.json`, record index).
struct Collect {
    names: Vec<String>,
}

impl Visit for Collect {
    type Acc = BTreeMap<(String, u64), Seen>;
    fn start(&self) -> Self::Acc {
        BTreeMap::new()
    }
    fn record(&self, acc: &mut Self::Acc, at: At, rec: &Record<'_>) {
        let seen = match map_record(rec) {
            Mapping::Request(m) => {
                let mut v = m.request.to_value();
                v["recorded"] = m.recorded.label().into();
                Seen::Request(v)
            }
            Mapping::Skipped(why) => Seen::Skipped(why),
            Mapping::Bad(b) => Seen::Bad(b.kind.code().into(), b.message),
            Mapping::NotKms => panic!("the corpus holds KMS records only"),
        };
        acc.insert((self.names[at.file as usize].clone(), at.record), seen);
    }
    fn bad(&self, acc: &mut Self::Acc, at: At, bad: Bad) {
        acc.insert(
            (self.names[at.file as usize].clone(), at.record),
            Seen::Bad(bad.kind.code().into(), bad.message),
        );
    }
    fn merge(&self, mut a: Self::Acc, b: Self::Acc) -> Self::Acc {
        a.extend(b);
        a
    }
}

fn map_corpus(dir: &std::path::Path) -> BTreeMap<(String, u64), Seen> {
    let inputs = read::inputs(&[dir.display().to_string()]).unwrap();
    let names = inputs
        .iter()
        .map(|i| {
            i.shown
                .rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".json")
                .to_owned()
        })
        .collect();
    read::visit_all(&inputs, &Collect { names }, &|_| {})
}

#[test]
fn every_record_maps_or_says_why() {
    let Some(dir) = corpus() else { return };
    let seen = map_corpus(&dir);
    let published: usize = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap();
            v["Records"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(seen.len(), published, "every record is accounted for");

    // Not authorizations: AWS generated the event itself, or no caller is named.
    let skipped: Vec<(&str, u64)> = seen
        .iter()
        .filter_map(|((f, r), s)| match s {
            Seen::Skipped(why) => {
                assert!(
                    why.contains("AwsServiceEvent") || why.starts_with("no caller"),
                    "{f} {r}: {why}"
                );
                Some((f.as_str(), *r))
            }
            _ => None,
        })
        .collect();
    let expected_skipped = [
        (
            "awsdocs-aws-cloudtrail-user-guide__non-api-aws-service-events",
            0,
        ),
        ("awsdocs-kms-dg__ct-delete-key", 0),
        ("awsdocs-kms-dg__ct-delete-key", 1),
        ("awsdocs-kms-dg__ct-deleteexpiredkeymaterial", 0),
        ("awsdocs-kms-dg__ct-encrypt", 0),
        ("awsdocs-kms-dg__ct-encrypt", 1),
        ("awsdocs-kms-dg__ct-reencrypt", 0),
        ("awsdocs-kms-dg__ct-synchronize-multi-region-key", 0),
        ("awsdocs-kms-dg__fix-keystore", 0),
        ("awsdocs-kms-dg__fix-keystore", 1),
        ("awsdocs-kms-dg__services-cloudtrail", 0),
        ("awsdocs-kms-dg__services-cloudtrail", 1),
        ("awsdocs-kms-dg__services-cloudtrail", 2),
        ("awsdocs-mirror-aws-certificate-user-guide__ct-related", 0),
        ("awsdocs-mirror-aws-certificate-user-guide__ct-related", 1),
    ];
    assert_eq!(skipped, expected_skipped);

    // Records that claim to be calls but cannot be one: each with a reviewed reason.
    let bad: Vec<(&str, u64, &str, &str)> = seen
        .iter()
        .filter_map(|((f, r), s)| match s {
            Seen::Bad(kind, msg) => Some((f.as_str(), *r, kind.as_str(), msg.as_str())),
            _ => None,
        })
        .collect();
    let expected_bad = [
        (
            "elastic-integrations__test-disable-key-json",
            0,
            "unmappable",
            "not a 12-digit account id",
        ),
        (
            "elastic-integrations__test-schedule-key-deletion-json",
            0,
            "unmappable",
            "not a 12-digit account id",
        ),
        (
            "panther__aws_imds_credential_exfiltration",
            0,
            "unmappable",
            "Decrypt names no key",
        ),
        (
            "panther__aws_kms_cmk_loss",
            0,
            "unmappable",
            "expected assumed-role/ROLE/SESSION",
        ),
        (
            "panther__aws_kms_cmk_loss",
            1,
            "unmappable",
            "expected assumed-role/ROLE/SESSION",
        ),
        (
            "panther__aws_kms_cmk_loss",
            2,
            "unmappable",
            "expected assumed-role/ROLE/SESSION",
        ),
        (
            "panther__aws_resource_made_public",
            0,
            "missing-field",
            "userIdentity.arn is missing",
        ),
    ];
    assert_eq!(bad.len(), expected_bad.len(), "{bad:#?}");
    for (got, want) in bad.iter().zip(expected_bad) {
        assert_eq!((got.0, got.1, got.2), (want.0, want.1, want.2));
        assert!(got.3.contains(want.3), "{got:?} should say {:?}", want.3);
    }
    let requests = seen
        .values()
        .filter(|s| matches!(s, Seen::Request(_)))
        .count();
    assert_eq!(
        requests,
        published - expected_skipped.len() - expected_bad.len()
    );
    assert!(requests >= 80);
}

/// The expected mapping of one record. `context` lists keys that must hold exactly this value
/// (a JSON array for multi-valued keys); `absent` lists keys that must not be supplied.
struct Expect {
    file: &'static str,
    record: u64,
    principal: &'static str,
    action: &'static str,
    resource: &'static str,
    recorded: &'static str,
    context: &'static [(&'static str, &'static str)],
    absent: &'static [&'static str],
    encryption_context: &'static [(&'static str, &'static str)],
    other: &'static [(&'static str, &'static str)],
}

const K1: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const K2: &str = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";
const ALICE: &str = "arn:aws:iam::111122223333:user/Alice";
const DIRECT: &[(&str, &str)] = &[
    ("aws:SourceIp", "192.0.2.0"),
    ("aws:ViaAWSService", "false"),
    ("aws:userid", "EX_PRINCIPAL_ID"),
];
const NOT_VIA: &[&str] = &["kms:ViaService"];

const fn e(
    file: &'static str,
    record: u64,
    principal: &'static str,
    action: &'static str,
    resource: &'static str,
) -> Expect {
    Expect {
        file,
        record,
        principal,
        action,
        resource,
        recorded: "allowed",
        context: DIRECT,
        absent: NOT_VIA,
        encryption_context: &[],
        other: &[],
    }
}

fn expectations() -> Vec<Expect> {
    vec![
        // CreateGrant made by Managed Blockchain with an IAM user's credentials.
        Expect {
            context: &[
                ("kms:ViaService", "managedblockchain.us-east-1.amazonaws.com"),
                ("aws:ViaAWSService", "true"),
                ("kms:GranteePrincipal", "managedblockchain.us-east-1.amazonaws.com"),
                ("kms:RetiringPrincipal", "managedblockchain.us-east-1.amazonaws.com"),
                ("kms:GrantOperations", r#"["Decrypt"]"#),
                ("kms:GrantConstraintType", "EncryptionContextSubset"),
                ("aws:MultiFactorAuthPresent", "false"),
                ("aws:RequestedRegion", "us-east-1"),
                ("aws:CurrentTime", "2021-06-08T16:36:04Z"),
                ("aws:EpochTime", "1623170164"),
            ],
            absent: &["aws:SourceIp", "kms:GrantIsForAWSResource"],
            ..e(
                "awsdocs-amazon-managed-blockchain-hyperledger-fabric-developer-guide__managed-blockchain-encryption-at-rest",
                0,
                "arn:aws:iam::111122223333:user/sample-user",
                "kms:CreateGrant",
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            )
        },
        // Secrets Manager using an assumed role (FAS).
        Expect {
            context: &[
                ("kms:ViaService", "secretsmanager.us-east-2.amazonaws.com"),
                ("aws:ViaAWSService", "true"),
                ("aws:userid", "AROAIGDTESTANDEXAMPLE:user01"),
                ("aws:UserAgent", "secretsmanager.amazonaws.com"),
            ],
            absent: &["aws:SourceIp", "kms:RequestAlias"],
            encryption_context: &[
                ("SecretARN", "arn:aws:secretsmanager:us-east-2:111122223333:secret:test-secret-a1b2c3"),
                ("SecretVersionId", "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1"),
            ],
            ..e(
                "awsdocs-aws-secrets-manager-docs__security-encryption",
                0,
                "arn:aws:sts::111122223333:assumed-role/Admin/user01",
                "kms:GenerateDataKey",
                "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            )
        },
        Expect {
            context: &[("kms:ViaService", "secretsmanager.us-west-2.amazonaws.com"), ("aws:RequestedRegion", "us-west-2")],
            absent: &["aws:SourceIp"],
            encryption_context: &[
                ("SecretARN", "arn:aws:secretsmanager:us-west-2:111122223333:secret:test-secret-a1b2c3"),
                ("SecretVersionId", "EXAMPLE1-90ab-cdef-fedc-ba987SECRET1"),
            ],
            ..e(
                "awsdocs-aws-secrets-manager-docs__services-secrets-manager",
                1,
                "arn:aws:sts::111122223333:assumed-role/Admin/user01",
                "kms:Decrypt",
                "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            )
        },
        // A key id in requestParameters; the key ARN comes from resources[].
        e("awsdocs-kms-dg__ct-cancel-key-deletion", 0, ALICE, "kms:CancelKeyDeletion", K1),
        Expect {
            absent: &["kms:CallerAccount"],
            ..e("awsdocs-kms-dg__ct-connect-keystore", 0, ALICE, "kms:ConnectCustomKeyStore", "*")
        },
        // CreateAlias: the alias is the resource, the key is the target.
        Expect {
            other: &[("target_key", "arn:aws:kms:us-east-1:123456789012:key/64e07f97-2489-4d04-bfdf-41723ad130bd")],
            context: &[("aws:MultiFactorAuthPresent", "false"), ("aws:TokenIssueTime", "2014-11-04T00:52:27Z")],
            ..e(
                "awsdocs-kms-dg__ct-createalias",
                0,
                "arn:aws:iam::123456789012:user/Alice",
                "kms:CreateAlias",
                "arn:aws:kms:us-east-1:123456789012:alias/my_alias",
            )
        },
        Expect {
            other: &[("target_key", K1)],
            ..e("awsdocs-kms-dg__ct-createalias", 2, ALICE, "kms:CreateAlias", "arn:aws:kms:us-west-2:111122223333:alias/ExampleAlias")
        },
        Expect {
            context: &[
                ("kms:GranteePrincipal", "EX_PRINCIPAL_ID"),
                ("kms:GrantOperations", r#"["Encrypt","RetireGrant"]"#),
                ("kms:GrantConstraintType", "EncryptionContextSubset"),
            ],
            absent: &["kms:RetiringPrincipal", "kms:ViaService"],
            encryption_context: &[("ContextKey1", "Value1")],
            ..e(
                "awsdocs-kms-dg__ct-creategrant",
                0,
                "arn:aws:iam::123456789012:user/Alice",
                "kms:CreateGrant",
                "arn:aws:kms:us-east-1:123456789012:key/65f61d18-c45c-41ca-90c9-179982e9b716",
            )
        },
        // CreateKey: resourceless, the request's key properties as context.
        Expect {
            context: &[
                ("kms:KeySpec", "SYMMETRIC_DEFAULT"),
                ("kms:CustomerMasterKeySpec", "SYMMETRIC_DEFAULT"),
                ("kms:KeyUsage", "ENCRYPT_DECRYPT"),
                ("kms:KeyOrigin", "AWS_CLOUDHSM"),
                ("kms:BypassPolicyLockoutSafetyCheck", "false"),
            ],
            absent: &["kms:MultiRegion", "aws:TagKeys"],
            ..e("awsdocs-kms-dg__ct-createkey", 1, ALICE, "kms:CreateKey", "*")
        },
        Expect {
            context: &[("kms:KeyOrigin", "EXTERNAL_KEY_STORE"), ("kms:MultiRegion", "false")],
            absent: &["kms:MultiRegionKeyType", "aws:TagKeys"],
            ..e("awsdocs-kms-dg__ct-createkey", 3, ALICE, "kms:CreateKey", "*")
        },
        // Nitro Enclaves: the attestation digest.
        Expect {
            context: &[
                ("kms:RecipientAttestation:ImageSha384", "ee0d451a2ff9aaaa9bccd07700b9cab123a0ac2386ef7e88ad5ea6c72ebabea840957328e2ec890b408c9b06cb8ebe6a"),
                ("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT"),
            ],
            ..e("awsdocs-kms-dg__ct-decrypt-enclave", 0, ALICE, "kms:Decrypt", K1)
        },
        Expect {
            encryption_context: &[("Department", "Engineering"), ("Project", "Alpha")],
            ..e("awsdocs-kms-dg__ct-decrypt", 0, ALICE, "kms:Decrypt", K1)
        },
        // sourceIPAddress "AWS Internal" is not an IP: no aws:SourceIp. Other errors are kept.
        Expect {
            recorded: "KMSInvalidStateException",
            context: &[("aws:UserAgent", "AWS Internal")],
            absent: &["aws:SourceIp"],
            encryption_context: &[("Department", "Engineering"), ("Purpose", "Test")],
            ..e("awsdocs-kms-dg__ct-decrypt", 4, ALICE, "kms:Decrypt", K2)
        },
        Expect {
            recorded: "IncorrectKeyException",
            encryption_context: &[("Department", "Engineering"), ("Project", "Alpha")],
            ..e("awsdocs-kms-dg__ct-decrypt", 5, ALICE, "kms:Decrypt", K1)
        },
        Expect {
            absent: &["target_key"],
            ..e("awsdocs-kms-dg__ct-deletealias", 0, ALICE, "kms:DeleteAlias", "arn:aws:kms:us-east-1:111122223333:alias/my_alias")
        },
        // invokedBy signin.amazonaws.com (the console) is the user's own call.
        Expect {
            context: &[("aws:ViaAWSService", "false"), ("aws:MultiFactorAuthPresent", "false")],
            ..e("awsdocs-kms-dg__ct-describekey", 1, ALICE, "kms:DescribeKey", K1)
        },
        e("awsdocs-kms-dg__ct-disablekey", 0, ALICE, "kms:DisableKey", K1),
        // The EBS flow of 2014: an alias in keyId, "AWS Internal" as invoker, a grant for an
        // instance logged by principal id, and the instance's session using it.
        Expect {
            context: &[("kms:RequestAlias", "alias/aws/ebs"), ("aws:ViaAWSService", "false")],
            absent: &["kms:ViaService", "aws:SourceIp"],
            encryption_context: &[("aws:ebs:id", "vol-f67bafb2")],
            ..e(
                "awsdocs-kms-dg__ct-ec2two",
                0,
                "arn:aws:iam::123456789012:user/Alice",
                "kms:GenerateDataKeyWithoutPlaintext",
                "arn:aws:kms:us-east-1:123456789012:key/e29ddfd4-1bf6-4e1b-8ecb-08216bd70d07",
            )
        },
        Expect {
            context: &[
                ("kms:GranteePrincipal", "111122223333:aws:ec2-infrastructure:i-81e2f56c"),
                ("kms:GrantConstraintType", "EncryptionContextSubset"),
                ("aws:SourceIp", "192.0.2.0"),
            ],
            encryption_context: &[("aws:ebs:id", "vol-f67bafb2")],
            ..e("awsdocs-kms-dg__ct-ec2two", 2, ALICE, "kms:CreateGrant", K1)
        },
        Expect {
            context: &[
                ("aws:PrincipalArn", "arn:aws:iam::111122223333:role/aws:ec2-infrastructure"),
                ("aws:userid", "111122223333:aws:ec2-infrastructure:i-81e2f56c"),
                ("aws:SourceIp", "192.0.2.0"),
            ],
            encryption_context: &[("aws:ebs:id", "vol-f67bafb2")],
            ..e(
                "awsdocs-kms-dg__ct-ec2two",
                4,
                "arn:aws:sts::111122223333:assumed-role/aws:ec2-infrastructure/i-81e2f56c",
                "kms:Decrypt",
                K1,
            )
        },
        e("awsdocs-kms-dg__ct-enablekeyrotation", 0, ALICE, "kms:EnableKeyRotation", K1),
        Expect {
            context: &[("kms:RecipientAttestation:ImageSha384", "ee0d451a2ff9aaaa9bccd07700b9cab123a0ac2386ef7e88ad5ea6c72ebabea840957328e2ec890b408c9b06cb8ebe6a")],
            ..e("awsdocs-kms-dg__ct-generate-random-enclave", 0, ALICE, "kms:GenerateRandom", "*")
        },
        Expect {
            encryption_context: &[("Department", "Engineering"), ("Project", "Alpha")],
            absent: &["kms:EncryptionAlgorithm", "kms:KeySpec"],
            ..e("awsdocs-kms-dg__ct-generatedatakey", 1, ALICE, "kms:GenerateDataKey", K1)
        },
        Expect {
            context: &[("kms:DataKeyPairSpec", "RSA_3072")],
            encryption_context: &[("Project", "Alpha")],
            ..e("awsdocs-kms-dg__ct-generatedatakeypair", 0, ALICE, "kms:GenerateDataKeyPair", K1)
        },
        Expect {
            recorded: "InvalidKeyUsageException",
            ..e("awsdocs-kms-dg__ct-generatedatakeyplaintext", 0, ALICE, "kms:GenerateDataKeyWithoutPlaintext", K1)
        },
        Expect {
            context: &[("kms:BypassPolicyLockoutSafetyCheck", "false")],
            other: &[("policy", "(new key policy)")],
            ..e("awsdocs-kms-dg__ct-put-key-policy", 0, ALICE, "kms:PutKeyPolicy", K1)
        },
        // ReEncrypt: source and destination keys, both encryption contexts.
        Expect {
            other: &[("destination", K2), ("destination_encryption_context", r#"{"Level":"3A"}"#)],
            context: &[("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT")],
            encryption_context: &[("Department", "Engineering"), ("Project", "Alpha")],
            ..e("awsdocs-kms-dg__ct-reencrypt", 2, ALICE, "kms:ReEncrypt", K1)
        },
        Expect {
            context: &[("kms:ReplicaRegion", "us-west-2")],
            ..e("awsdocs-kms-dg__ct-replicate-key", 0, ALICE, "kms:ReplicateKey", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        },
        Expect {
            other: &[("grant_id", "abcde1237f76e4ba7987489ac329fbfba6ad343d6f7075dbd1ef191f0120514a")],
            ..e("awsdocs-kms-dg__ct-revoke-grant", 0, ALICE, "kms:RevokeGrant", K1)
        },
        Expect {
            context: &[("kms:ScheduleKeyDeletionPendingWindowInDays", "20")],
            ..e("awsdocs-kms-dg__ct-schedule-key-deletion", 0, ALICE, "kms:ScheduleKeyDeletion", K1)
        },
        Expect {
            context: &[("kms:SigningAlgorithm", "RSASSA_PKCS1_V1_5_SHA_256"), ("kms:MessageType", "RAW")],
            ..e("awsdocs-kms-dg__ct-sign", 0, ALICE, "kms:Sign", K2)
        },
        // The second-Region half of UpdatePrimaryRegion: invokedBy kms.amazonaws.com is not FAS,
        // and the key comes from requestParameters.keyId.
        Expect {
            context: &[("kms:PrimaryRegion", "ap-northeast-1"), ("aws:ViaAWSService", "false"), ("aws:RequestedRegion", "ap-northeast-1")],
            ..e(
                "awsdocs-kms-dg__ct-update-primary-region",
                1,
                ALICE,
                "kms:UpdatePrimaryRegion",
                "arn:aws:kms:ap-northeast-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab",
            )
        },
        Expect {
            other: &[("target_key", K1)],
            ..e("awsdocs-kms-dg__ct-updatealias", 0, ALICE, "kms:UpdateAlias", "arn:aws:kms:us-west-2:111122223333:alias/my_alias")
        },
        Expect {
            context: &[("kms:MacAlgorithm", "HMAC_SHA_384")],
            ..e("awsdocs-kms-dg__ct-verifymac", 0, ALICE, "kms:VerifyMac", K1)
        },
        // internal.amazonaws.com (old records) names no service: via, but no kms:ViaService.
        Expect {
            context: &[
                ("aws:ViaAWSService", "true"),
                ("aws:PrincipalArn", "arn:aws:iam::111122223333:role/Admins"),
                ("aws:TokenIssueTime", "2015-09-10T23:12:48Z"),
            ],
            absent: &["kms:ViaService", "aws:SourceIp"],
            encryption_context: &[("aws:s3:arn", "arn:aws:s3:::example_bucket/example_object")],
            ..e(
                "awsdocs-kms-dg__deleting-keys-determining-usage",
                0,
                "arn:aws:sts::111122223333:assumed-role/Admins/example-user",
                "kms:GenerateDataKey",
                K1,
            )
        },
        // A role session naming the key by alias; no IP literal.
        Expect {
            context: &[("kms:RequestAlias", "alias/project-key"), ("aws:userid", "ABCDE")],
            absent: &["aws:SourceIp", "kms:ViaService"],
            ..e("awsdocs-kms-dg__kms-alias", 0, "arn:aws:iam::111122223333:role/ProjectDev", "kms:GenerateDataKey", K1)
        },
        // Through a VPC endpoint: aws:SourceVpce, and no aws:SourceIp.
        Expect {
            context: &[("aws:SourceVpce", "vpce-1234abcdf5678c90a"), ("aws:RequestedRegion", "eu-west-1")],
            absent: &["aws:SourceIp"],
            ..e(
                "awsdocs-kms-dg__kms-vpc-endpoint",
                0,
                ALICE,
                "kms:GenerateDataKey",
                "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            )
        },
        // DynamoDB: an assumed role through the service, then the service principal itself.
        Expect {
            context: &[
                ("kms:ViaService", "dynamodb.us-west-2.amazonaws.com"),
                ("kms:GranteePrincipal", "dynamodb.us-west-2.amazonaws.com"),
                ("kms:GrantOperations", r#"["DescribeKey","GenerateDataKey","Decrypt","Encrypt","ReEncryptFrom","ReEncryptTo","RetireGrant"]"#),
                ("aws:PrincipalArn", "arn:aws:iam::111122223333:role/Admin"),
            ],
            absent: &["aws:SourceIp"],
            encryption_context: &[("aws:dynamodb:subscriberId", "111122223333"), ("aws:dynamodb:tableName", "Books")],
            ..e("awsdocs-kms-dg__services-dynamodb", 0, "arn:aws:sts::111122223333:assumed-role/Admin/user01", "kms:CreateGrant", K1)
        },
        Expect {
            context: &[("aws:UserAgent", "dynamodb.amazonaws.com")],
            absent: &["aws:ViaAWSService", "kms:ViaService", "aws:userid", "aws:SourceIp"],
            encryption_context: &[("aws:dynamodb:subscriberId", "111122223333"), ("aws:dynamodb:tableName", "Services")],
            ..e("awsdocs-kms-dg__services-dynamodb", 1, "dynamodb.amazonaws.com", "kms:GenerateDataKey", K1)
        },
        Expect {
            context: &[("aws:RequestedRegion", "eu-west-1")],
            absent: &["aws:ViaAWSService", "aws:SourceIp"],
            encryption_context: &[("aws:workmail:arn", "arn:aws:workmail:eu-west-1:111122223333:organization/m-c6981ff7642446fa8772ba99c690e455")],
            ..e(
                "awsdocs-kms-dg__services-wm",
                0,
                "workmail.eu-west-1.amazonaws.com",
                "kms:Encrypt",
                "arn:aws:kms:eu-west-1:111122223333:key/1a2b3c4d-5e6f-1a2b-3c4d-5e6f1a2b3c4d",
            )
        },
        // An SSO role with a path; an eventTime without "T" and with nanoseconds.
        Expect {
            context: &[
                ("aws:PrincipalArn", "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_ExampleRole_xxxxxxxxxxxxxxxx"),
                ("aws:SourceIp", "10.0.0.1"),
                ("aws:CurrentTime", "2025-03-05T21:19:44Z"),
                ("kms:BypassPolicyLockoutSafetyCheck", "false"),
            ],
            other: &[("policy", "(new key policy)")],
            ..e(
                "panther__aws_resource_made_public",
                1,
                "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_ExampleRole_xxxxxxxxxxxxxxxx/example.user",
                "kms:PutKeyPolicy",
                "arn:aws:kms:us-west-2:123456789012:key/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
            )
        },
        // A lower-case "arn" in resources[]; the Region of the call differs from the key's.
        Expect {
            context: &[("aws:RequestedRegion", "ap-east-1"), ("aws:CurrentTime", "2021-10-19T00:56:05Z"), ("kms:EncryptionAlgorithm", "SYMMETRIC_DEFAULT")],
            absent: &["aws:SourceIp"],
            encryption_context: &[("aws:s3:arn", "arn:aws:s3:::1111")],
            ..e(
                "panther__aws_unused_region",
                0,
                "arn:aws:sts::123456789012:assumed-role/example-role/example-user",
                "kms:Decrypt",
                "arn:aws:kms:us-west-2:123456789012:key/1111",
            )
        },
    ]
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn mapping_matches_the_published_records_field_by_field() {
    let Some(dir) = corpus() else { return };
    let seen = map_corpus(&dir);
    let expectations = expectations();
    assert!(expectations.len() >= 30);
    let mut checked = 0;
    for x in &expectations {
        let id = format!("{} record {}", x.file, x.record);
        let Some(Seen::Request(r)) = seen.get(&(x.file.to_owned(), x.record)) else {
            panic!(
                "{id}: no request, got {:?}",
                seen.get(&(x.file.to_owned(), x.record))
            );
        };
        assert_eq!(r["principal"], x.principal, "{id}: principal");
        assert_eq!(r["action"], x.action, "{id}: action");
        assert_eq!(r["resource"], x.resource, "{id}: resource");
        assert_eq!(r["recorded"], x.recorded, "{id}: recorded outcome");
        let ctx = &r["context"];
        for (k, v) in x.context {
            assert_eq!(text(&ctx[*k]), *v, "{id}: context {k} in {ctx}");
        }
        for k in x.absent {
            assert!(
                ctx.get(*k).is_none() && r.get(*k).is_none(),
                "{id}: {k} should be absent: {r}"
            );
        }
        let ec: Vec<(String, String)> = r["encryption_context"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default();
        let want: Vec<(String, String)> = x
            .encryption_context
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        assert_eq!(ec, want, "{id}: encryption_context");
        for (k, v) in x.other {
            assert_eq!(text(&r[*k]), *v, "{id}: {k}");
        }
        checked += 1;
    }
    assert_eq!(checked, expectations.len());
}
