//! A client for the Harbor-compatible admin API (`/api/v2.0`) with Basic credentials:
//! raw requests with [`Resp`] assertions, and the calls tests use to set up tenants
//! (users, projects, members, robot accounts) and to read the audit log.
//!
//! Like [`crate::RegistryClient`], it fails the test on any 5xx answer.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::client::{Resp, error_chain};
use crate::server::BerthServer;

/// Per-request limit, as for the registry client.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How often [`ApiClient::wait_for_audit`] asks again.
const AUDIT_POLL: Duration = Duration::from_millis(200);

/// Harbor's project roles (`role_id` of a membership).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    ProjectAdmin = 1,
    Developer = 2,
    Guest = 3,
    Maintainer = 4,
    LimitedGuest = 5,
}

/// What `POST /robots` answers: the only time the secret is shown.
#[derive(Debug, Clone)]
pub struct RobotAccount {
    pub id: i64,
    /// The login name: `robot$<project>+<name>`.
    pub name: String,
    pub secret: String,
}

/// One entry of `GET /audit-logs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub username: String,
    pub operation: String,
    pub resource_type: String,
    pub resource: String,
}

pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    creds: Option<(String, String)>,
}

impl ApiClient {
    /// A client for the registry at `base` (`http://host:port`), sending `creds` as Basic
    /// authorization on every request (none: anonymous).
    pub fn new(base: &str, creds: Option<(&str, &str)>) -> ApiClient {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("building the admin API client");
        ApiClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            creds: creds.map(|(u, p)| (u.to_owned(), p.to_owned())),
        }
    }

    /// The system administrator of `server`.
    pub fn admin(server: &BerthServer) -> ApiClient {
        ApiClient::new(
            &server.base_url(),
            Some((server.admin_user(), server.admin_password())),
        )
    }

    /// A user or robot of `server`.
    pub fn user(server: &BerthServer, username: &str, password: &str) -> ApiClient {
        ApiClient::new(&server.base_url(), Some((username, password)))
    }

    /// `method /api/v2.0<path>` with an optional JSON body; fails the test on a transport
    /// error or a 5xx.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let url = format!("{}/api/v2.0{path}", self.base);
        let mut request = self.http.request(method.clone(), &url);
        if let Some((user, password)) = &self.creds {
            request = request.basic_auth(user, Some(password));
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url} failed: {}", error_chain(&e)));
        let status = response.status();
        let headers: HeaderMap = response.headers().clone();
        let body = response.bytes().await.unwrap_or_else(|e| {
            panic!("reading the answer to {method} {url}: {}", error_chain(&e))
        });
        let resp = Resp {
            method,
            url,
            status,
            headers,
            body,
        };
        assert!(
            !resp.status.is_server_error(),
            "the admin API answered with a server error: {resp}"
        );
        resp
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.request(Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path, None).await
    }

    /// Creates a local user (`POST /users`, admin only); returns its id, from `Location`.
    pub async fn create_user(&self, username: &str, password: &str) -> i64 {
        let body = json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "realname": format!("{username} (e2e)"),
            "password": password,
            "comment": "e2e",
        });
        let resp = self.post("/users", &body).await.expect_status(201);
        id_from_location(&resp)
    }

    /// Creates a project (`POST /projects`); expects 201.
    pub async fn create_project(&self, name: &str, public: bool) {
        let body = json!({
            "project_name": name,
            "metadata": {"public": public.to_string()},
        });
        self.post("/projects", &body).await.expect_status(201);
    }

    /// Makes `username` a member of `project` with `role` (`POST .../members`); expects 201.
    pub async fn add_member(&self, project: &str, username: &str, role: Role) {
        let body = json!({
            "role_id": role as i64,
            "member_user": {"username": username},
        });
        self.post(&format!("/projects/{project}/members"), &body)
            .await
            .expect_status(201);
    }

    /// Creates a project robot of `project` allowed `actions` (`pull`, `push`, ...) on its
    /// repositories, living `duration` days (-1: never); expects 201 with a secret.
    pub async fn create_robot(
        &self,
        project: &str,
        name: &str,
        actions: &[&str],
        duration: i64,
    ) -> RobotAccount {
        let access: Vec<Value> = actions
            .iter()
            .map(|action| json!({"resource": "repository", "action": action}))
            .collect();
        let body = json!({
            "name": name,
            "description": format!("e2e robot {name}"),
            "duration": duration,
            "level": "project",
            "permissions": [{"kind": "project", "namespace": project, "access": access}],
        });
        let resp = self.post("/robots", &body).await.expect_status(201);
        let created = resp.json();
        let field = |key: &str| {
            created
                .get(key)
                .cloned()
                .unwrap_or_else(|| panic!("robot creation answer without {key}: {resp}"))
        };
        let robot = RobotAccount {
            id: field("id")
                .as_i64()
                .unwrap_or_else(|| panic!("robot id is not a number: {resp}")),
            name: field("name").as_str().unwrap_or_default().to_owned(),
            secret: field("secret").as_str().unwrap_or_default().to_owned(),
        };
        assert_eq!(
            robot.name,
            format!("robot${project}+{name}"),
            "a project robot's login name is robot$<project>+<name>: {resp}"
        );
        assert!(!robot.secret.is_empty(), "no secret in {resp}");
        robot
    }

    /// The robot as `GET /robots/{id}` shows it; expects 200.
    pub async fn robot(&self, id: i64) -> Value {
        self.get(&format!("/robots/{id}"))
            .await
            .expect_status(200)
            .json()
    }

    /// Disables a robot the way Harbor clients do: `PUT /robots/{id}` with what GET gave
    /// and `disable: true`; expects 200.
    pub async fn disable_robot(&self, id: i64) {
        let mut robot = self.robot(id).await;
        robot["disable"] = Value::Bool(true);
        self.put(&format!("/robots/{id}"), &robot)
            .await
            .expect_status(200);
    }

    /// The names of the projects `GET /projects` lists for this client (first 100).
    pub async fn project_names(&self) -> Vec<String> {
        let resp = self
            .get("/projects?page=1&page_size=100")
            .await
            .expect_status(200);
        resp.json()
            .as_array()
            .unwrap_or_else(|| panic!("GET /projects did not answer an array: {resp}"))
            .iter()
            .map(|p| {
                p["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("project without a name: {resp}"))
                    .to_owned()
            })
            .collect()
    }

    /// `DELETE /projects/{project}/repositories/{repository}`, `repository` without the
    /// project part; slashes are encoded twice, as Harbor's own clients send them.
    pub async fn delete_repository(&self, project: &str, repository: &str) -> Resp {
        let segment = repository.replace('/', "%252F");
        self.delete(&format!("/projects/{project}/repositories/{segment}"))
            .await
    }

    /// One page of `GET /audit-logs` (newest first), filtered by Harbor's `q`.
    pub async fn audit_logs(&self, q: &str) -> Vec<AuditEntry> {
        let q: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        let resp = self
            .get(&format!("/audit-logs?page=1&page_size=100&q={q}"))
            .await
            .expect_status(200);
        resp.json()
            .as_array()
            .unwrap_or_else(|| panic!("GET /audit-logs did not answer an array: {resp}"))
            .iter()
            .map(|e| {
                let text = |key: &str| {
                    e[key]
                        .as_str()
                        .unwrap_or_else(|| panic!("audit entry without {key}: {e}"))
                        .to_owned()
                };
                AuditEntry {
                    username: text("username"),
                    operation: text("operation"),
                    resource_type: text("resource_type"),
                    resource: text("resource"),
                }
            })
            .collect()
    }

    /// Polls `GET /audit-logs?q=<q>` until an entry satisfies `wanted` (audit records
    /// are written in batches), failing the test after `limit` with what was listed.
    pub async fn wait_for_audit(
        &self,
        q: &str,
        limit: Duration,
        what: &str,
        wanted: impl Fn(&AuditEntry) -> bool,
    ) -> AuditEntry {
        let deadline = Instant::now() + limit;
        loop {
            let entries = self.audit_logs(q).await;
            if let Some(found) = entries.iter().find(|e| wanted(e)) {
                return found.clone();
            }
            if Instant::now() >= deadline {
                panic!("no audit entry for {what} within {limit:?} (q={q}); listed: {entries:#?}");
            }
            tokio::time::sleep(AUDIT_POLL).await;
        }
    }
}

/// The numeric id at the end of a `Location` header.
#[track_caller]
fn id_from_location(resp: &Resp) -> i64 {
    let location = resp.location();
    location
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no id at the end of Location: {resp}"))
}

/// The `message`s of Harbor's error envelope `{"errors":[{"code","message"}]}`.
pub fn error_messages(resp: &Resp) -> Vec<String> {
    serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| v.get("errors").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("message").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// Whether `status` is one of the answers that reveal nothing: 401, 403 or 404.
pub fn is_refusal(status: StatusCode) -> bool {
    matches!(status.as_u16(), 401 | 403 | 404)
}
