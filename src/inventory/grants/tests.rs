use super::*;
use std::io::Write;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn load(text: &str) -> Result<GrantSet, GrantsError> {
    let f = file(text);
    let mut g = GrantSet::default();
    g.load(f.path().to_str().unwrap())?;
    Ok(g)
}

fn allowed(g: &GrantSet, id: &str, action: &str) -> bool {
    !g.denied(id, action) && g.for_identity(id).iter().any(|x| x.allows(action))
}

const ROLE: &str = "arn:aws:iam::111122223333:role/Deployer";
const USER: &str = "arn:aws:iam::111122223333:user/ci";

#[test]
fn iam_authorization_details_with_inline_managed_group_and_encoded_documents() {
    let managed = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}"#;
    let encoded: String = managed
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let doc = format!(
        r#"{{"RoleDetailList":[{{"Arn":"{ROLE}","RoleName":"Deployer",
             "RolePolicyList":[{{"PolicyName":"deploy","PolicyDocument":{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"lambda:UpdateFunctionCode","Resource":"arn:aws:lambda:*:*:function:app"}}}}}}],
             "AttachedManagedPolicies":[{{"PolicyName":"ro","PolicyArn":"arn:aws:iam::111122223333:policy/ro"}},
                                       {{"PolicyName":"gone","PolicyArn":"arn:aws:iam::aws:policy/Missing"}}]}}],
           "UserDetailList":[{{"Arn":"{USER}","UserName":"ci","GroupList":["builders"],
             "UserPolicyList":[{{"PolicyName":"no-iam","PolicyDocument":{{"Statement":[{{"Effect":"Deny","Action":"iam:*","Resource":"*"}}]}}}}]}}],
           "GroupDetailList":[{{"GroupName":"builders","GroupPolicyList":[{{"PolicyName":"all-but","PolicyDocument":{{"Statement":[{{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}}]}}}}]}}],
           "Policies":[{{"Arn":"arn:aws:iam::111122223333:policy/ro","PolicyName":"ro","DefaultVersionId":"v2",
             "PolicyVersionList":[{{"VersionId":"v1","IsDefaultVersion":false,"Document":{{"Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}}},
                                  {{"VersionId":"v2","IsDefaultVersion":true,"Document":"{encoded}"}}]}}]}}"#
    );
    let g = load(&doc).unwrap();
    assert!(allowed(&g, ROLE, "s3:GetObject"));
    assert!(
        allowed(&g, ROLE, "S3:LISTBUCKET"),
        "IAM actions ignore case"
    );
    assert!(allowed(&g, ROLE, "lambda:UpdateFunctionCode"));
    assert!(
        !allowed(&g, ROLE, "s3:PutObject"),
        "only the default version counts"
    );
    assert_eq!(g.unresolved.len(), 1, "{:?}", g.unresolved);
    assert!(g.unresolved[0].contains("Missing"));
    let scoped = g
        .for_identity(ROLE)
        .into_iter()
        .find(|x| x.display == "lambda:UpdateFunctionCode")
        .unwrap();
    assert!(scoped.source.contains("function:app"), "{}", scoped.source);
    // The group's NotAction allow, minus the user's unconditional deny.
    assert!(allowed(&g, USER, "ec2:RunInstances"));
    assert!(!allowed(&g, USER, "iam:CreateUser"));
    assert!(!allowed(&g, USER, "organizations:LeaveOrganization"));
}

#[test]
fn a_policy_document_is_attached_to_the_principal_named_with_it() {
    let f = file(
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:Query"],"Resource":"*"},
                     {"Effect":"Deny","Action":"dynamodb:Query","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
    );
    let mut g = GrantSet::default();
    g.load(&format!("{ROLE}={}", f.path().display())).unwrap();
    assert!(allowed(&g, ROLE, "dynamodb:GetItem"));
    assert!(
        allowed(&g, ROLE, "dynamodb:Query"),
        "a conditional deny does not remove the grant"
    );
    let bare = GrantSet::default()
        .load(f.path().to_str().unwrap())
        .unwrap_err();
    assert!(bare.to_string().contains("ARN=FILE"), "{bare}");
}

#[test]
fn rbac_bindings_grant_rules_to_service_accounts_and_their_groups() {
    let doc = r#"{"apiVersion":"v1","kind":"List","items":[
      {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"deployer","namespace":"ci"},
       "rules":[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get","patch"]},
                {"apiGroups":[""],"resources":["pods","pods/log"],"verbs":["get","list"]}]},
      {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"exec-anything"},
       "rules":[{"apiGroups":["*"],"resources":["*/exec"],"verbs":["create"]},{"nonResourceURLs":["/healthz*"],"verbs":["get"]}]},
      {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"deployer","namespace":"ci"},
       "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"deployer"},
       "subjects":[{"kind":"ServiceAccount","name":"deployer"}]},
      {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"all-sas-in-ci"},
       "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"exec-anything"},
       "subjects":[{"kind":"Group","name":"system:serviceaccounts:ci"}]},
      {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"dangling","namespace":"ci"},
       "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"nowhere"},
       "subjects":[{"kind":"ServiceAccount","name":"other","namespace":"ci"}]}]}"#;
    let g = load(doc).unwrap();
    let sa = "system:serviceaccount:ci:deployer";
    assert!(allowed(&g, sa, "get apps/deployments"));
    assert!(allowed(&g, sa, "list pods"));
    assert!(allowed(&g, sa, "get pods/log"));
    assert!(!allowed(&g, sa, "delete pods"));
    assert!(
        allowed(&g, sa, "create pods/exec"),
        "through its namespace's group"
    );
    assert!(allowed(&g, sa, "get /healthz/ready"));
    assert!(!allowed(
        &g,
        "system:serviceaccount:prod:x",
        "create pods/exec"
    ));
    assert_eq!(g.unresolved.len(), 1);
    assert!(g
        .identities()
        .any(|i| i == "system:serviceaccount:ci:other"));
}

#[test]
fn k8s_actions_split_as_the_audit_decoder_writes_them() {
    let a = parse_k8s_action("create pods/exec").unwrap();
    assert_eq!(
        (a.group, a.resource, a.subresource),
        ("", "pods", Some("exec"))
    );
    let a = parse_k8s_action("get apps/deployments").unwrap();
    assert_eq!(
        (a.group, a.resource, a.subresource),
        ("apps", "deployments", None)
    );
    let a = parse_k8s_action("update apps/deployments/scale").unwrap();
    assert_eq!(
        (a.group, a.resource, a.subresource),
        ("apps", "deployments", Some("scale"))
    );
    assert_eq!(
        parse_k8s_action("get /metrics").unwrap().url,
        Some("/metrics")
    );
    assert!(parse_k8s_action("s3:GetObject").is_none());
}

#[test]
fn canonical_grants_and_clear_errors() {
    let g = load(r#"{"version":1,"grants":[{"identity":"agent-7","owner":"team-data","actions":["tools/call:search*","kb:read"]}]}"#).unwrap();
    assert!(allowed(&g, "agent-7", "tools/call:search_docs"));
    assert!(!allowed(&g, "agent-7", "kb:write"));
    assert_eq!(g.owner("agent-7"), Some("team-data"));

    let e = load("{\"grants\": [\n  {\"identity\": \"a\", \"actions\": [\"x\",]}\n]}").unwrap_err();
    assert!(matches!(e, GrantsError::Syntax { line: 2, .. }), "{e}");
    let e = load(r#"{"grants":[{"identity":"a","actions":["x", 3]}]}"#).unwrap_err();
    assert!(e.to_string().contains("/grants/0/actions/1"), "{e}");
    let e = load(r#"{"RoleDetailList":[{"Arn":"arn:aws:iam::1:role/r","RolePolicyList":[{"PolicyName":"p","PolicyDocument":{"Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}}]}]}"#).unwrap_err();
    assert!(
        e.to_string()
            .contains("/RoleDetailList/0/RolePolicyList/0/PolicyDocument/Statement/0/Effect"),
        "{e}"
    );
    let e = load(r#"{"something":"else"}"#).unwrap_err();
    assert!(e.to_string().contains("neither"), "{e}");
}
