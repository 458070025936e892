//! What the simulated fleet is made of: the actions, clients and call
//! shapes of each kind of agent.

pub(crate) const LLM_TOOLS: [&str; 20] = [
    "tools:WebSearch",
    "tools:FetchUrl",
    "kb:Query",
    "kb:GetDocument",
    "crm:GetCustomer",
    "crm:SearchCustomers",
    "tickets:GetTicket",
    "tickets:UpdateTicket",
    "tickets:AddComment",
    "calendar:ListEvents",
    "email:DraftReply",
    "s3:GetObject",
    "vector:Search",
    "github:GetFile",
    "github:ListPullRequests",
    "jira:GetIssue",
    "slack:PostMessage",
    "docs:CreateDraft",
    "sql:RunReadQuery",
    "translate:TranslateText",
];

pub(crate) const CRON_TEMPLATES: [&[&str]; 6] = [
    &[
        "sts:GetCallerIdentity",
        "s3:ListBucket",
        "s3:GetObject",
        "s3:GetObject",
        "glue:StartJobRun",
        "glue:GetJobRun",
        "s3:PutObject",
        "sns:Publish",
    ],
    &[
        "rds:DescribeDBSnapshots",
        "rds:CreateDBSnapshot",
        "s3:PutObject",
        "cloudwatch:PutMetricData",
    ],
    &[
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "s3:GetObject",
        "ses:SendEmail",
    ],
    &["dynamodb:Scan", "s3:PutObject", "sqs:SendMessage"],
    &[
        "s3:ListBucket",
        "s3:DeleteObject",
        "logs:DescribeLogGroups",
        "logs:PutRetentionPolicy",
    ],
    &[
        "ecr:DescribeImages",
        "ecr:BatchGetImage",
        "inspector2:ListFindings",
        "securityhub:BatchImportFindings",
    ],
];

pub(crate) const REST: [&str; 10] = [
    "GET /v1/orders",
    "GET /v1/orders/{id}",
    "POST /v1/orders",
    "GET /v1/customers/{id}",
    "PATCH /v1/customers/{id}",
    "GET /v1/invoices",
    "POST /v1/payments",
    "GET /v1/products",
    "GET /v1/inventory/{sku}",
    "POST /v1/webhooks/ack",
];

pub(crate) const WORKLOAD: [&str; 9] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "s3:GetObject",
    "s3:PutObject",
    "dynamodb:PutItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "kinesis:PutRecord",
    "sns:Publish",
];

pub(crate) const LLM_UAS: [&str; 3] = [
    "langchain/0.2.11 python/3.11",
    "openai-agents/1.4.2",
    "warden-demo-agent/0.9 (crew)",
];
pub(crate) const SDK_UAS: [&str; 3] = [
    "aws-sdk-go-v2/1.30.1 os/linux",
    "Boto3/1.34.2 Python/3.11.7",
    "aws-sdk-java/2.25.1 Linux/5.10",
];
pub(crate) const PARTNER_UAS: [&str; 4] = [
    "PartnerSync/3.2",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "python-httpx/0.27.0",
];

/// What a kind of call usually returns: (median bytes_out, median latency ms).
pub(crate) fn call_shape(action: &str) -> (f64, f64) {
    let a = action.to_ascii_lowercase();
    if a.contains("getobject") || a.contains("export") {
        (60_000.0, 80.0)
    } else if a.starts_with("get ") {
        (3_000.0, 60.0)
    } else if a.starts_with("post ") || a.starts_with("patch ") {
        (600.0, 120.0)
    } else if a.contains("invokemodel") {
        (4_000.0, 900.0)
    } else if a.contains("list")
        || a.contains("describe")
        || a.contains("scan")
        || a.contains("search")
        || a.contains("query")
    {
        (9_000.0, 70.0)
    } else if a.contains("put")
        || a.contains("send")
        || a.contains("publish")
        || a.contains("delete")
    {
        (300.0, 40.0)
    } else {
        (2_000.0, 60.0)
    }
}
