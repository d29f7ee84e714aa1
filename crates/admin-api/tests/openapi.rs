//! The OpenAPI document stays in step with the routes: every route registered in
//! `src/routes/mod.rs` is documented, every documented operation is routed (answers
//! something other than the 404 fallback or 405), and the interactive API page is
//! served from the binary, with no internet access needed.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{Method, StatusCode};
use serde_json::Value;
use support::{ADMIN, Api, Backend};

const BASE: &str = "/api/v2.0";
const ROUTES_SOURCE: &str = include_str!("../src/routes/mod.rs");
const METHODS: &[&str] = &["get", "post", "put", "delete", "patch", "head"];

/// `{anything}` -> `{}` and no trailing slash, so two spellings of one route compare
/// equal (a path parameter's name is not part of the route's identity).
fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push('{');
            }
            '}' => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    if out.len() > 1 {
        out.trim_end_matches('/').to_owned()
    } else {
        out
    }
}

/// `const NAME: &str = "value";` definitions in the routes source.
fn string_consts(src: &str) -> BTreeMap<String, String> {
    let mut consts = BTreeMap::new();
    for part in src.split("const ").skip(1) {
        let Some((name, rest)) = part.split_once(": &str") else {
            continue;
        };
        let Some(start) = rest.find('"') else {
            continue;
        };
        let Some(len) = rest[start + 1..].find('"') else {
            continue;
        };
        consts.insert(
            name.trim().to_owned(),
            rest[start + 1..start + 1 + len].to_owned(),
        );
    }
    consts
}

/// The text of the call whose opening parenthesis is at `open` (exclusive), up to the
/// matching close.
fn call_args(src: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in src[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &src[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    &src[open + 1..]
}

/// Resolves a route path argument: a literal, a `const`, or `&format!("{CONST}/...")`.
fn resolve_path(arg: &str, consts: &BTreeMap<String, String>) -> Option<String> {
    let arg = arg.trim().trim_start_matches('&');
    if let Some(lit) = arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
        return Some(lit.to_owned());
    }
    if let Some(fmt) = arg.strip_prefix("format!(") {
        let lit = fmt.trim().trim_end_matches(')').trim().trim_matches('"');
        let mut path = lit.to_owned();
        for (name, value) in consts {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        return Some(path.replace("{{", "{").replace("}}", "}"));
    }
    consts.get(arg).cloned()
}

/// Every (METHOD, path) registered with `.route(path, method_router)` in the source.
fn registered_routes() -> BTreeSet<(String, String)> {
    let consts = string_consts(ROUTES_SOURCE);
    let mut routes = BTreeSet::new();
    for (at, _) in ROUTES_SOURCE.match_indices(".route(") {
        let args = call_args(ROUTES_SOURCE, at + ".route".len());
        let (path_arg, methods) = split_first_arg(args);
        let path = resolve_path(path_arg, &consts)
            .unwrap_or_else(|| panic!("cannot read the path of .route({args})"));
        for method in METHODS {
            let called = methods.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0 || !methods[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
            if called {
                routes.insert((method.to_uppercase(), normalize(&format!("{BASE}{path}"))));
            }
        }
    }
    routes
}

/// Splits `a, b` at the first comma outside parentheses and quotes.
fn split_first_arg(args: &str) -> (&str, &str) {
    let (mut depth, mut quoted) = (0, false);
    for (i, c) in args.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => return (&args[..i], &args[i + 1..]),
            _ => {}
        }
    }
    (args, "")
}

async fn document(api: &Api) -> Value {
    let res = api.get(&format!("{BASE}/openapi.json"), None).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(
        res.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    res.body
}

/// Every (METHOD, path) the document describes, paths as written there.
fn documented(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(*method).is_some() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// A concrete URL for a documented path: ids become 1, other parameters `x`.
fn sample(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let name = &rest[open + 1..close];
        out.push_str(if name.ends_with("id") { "1" } else { "x" });
        rest = &rest[(close + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_route_is_documented() {
    support::run(Backend::Sqlite, |db| async move {
        let api = Api::new(db).await;
        let doc = document(&api).await;
        let documented: BTreeSet<(String, String)> = documented(&doc)
            .into_iter()
            .map(|(m, p)| (m, normalize(&p)))
            .collect();
        let registered = registered_routes();
        // The parser must see the routes it is meant to police.
        for expected in [("GET", "/api/v2.0/users"), ("PATCH", "/api/v2.0/robots/{}"), ("GET", "/api/v2.0/ping")] {
            let expected = (expected.0.to_owned(), expected.1.to_owned());
            assert!(registered.contains(&expected), "parser missed {expected:?}: {registered:?}");
        }
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document (add them to src/openapi.rs): {undocumented:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    support::run(Backend::Sqlite, |db| async move {
        let api = Api::new(db).await;
        let doc = document(&api).await;
        let ops = documented(&doc);
        assert!(ops.len() >= 20, "suspiciously few operations: {ops:?}");
        for (method, path) in ops {
            let url = sample(&path);
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let res = api.call(method.clone(), &url, ADMIN, None).await;
            assert_ne!(
                res.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {url} is documented but not routed"
            );
            let fallback = res.status == StatusCode::NOT_FOUND
                && (res.text.contains("no such API endpoint")
                    || (method == Method::HEAD && res.text.is_empty() && {
                        let get = api.call(Method::GET, &url, ADMIN, None).await;
                        get.text.contains("no such API endpoint")
                    }));
            assert!(
                !fallback,
                "{method} {url} is documented but answered by the 404 fallback"
            );
        }
        // And the fallback itself answers in Harbor's envelope.
        let res = api.get(&format!("{BASE}/no/such/thing"), ADMIN).await;
        assert_eq!((res.status.as_u16(), res.error_code()), (404, "NOT_FOUND"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_operations_follow_harbor() {
    support::run(Backend::Sqlite, |db| async move {
        let api = Api::new(db).await;
        let doc = document(&api).await;
        let ops: BTreeSet<(String, String)> = documented(&doc).into_iter().collect();
        for (method, path) in [
            ("GET", "/users"),
            ("POST", "/users"),
            ("GET", "/users/current"),
            ("GET", "/users/search"),
            ("GET", "/users/{user_id}"),
            ("PUT", "/users/{user_id}"),
            ("DELETE", "/users/{user_id}"),
            ("PUT", "/users/{user_id}/password"),
            ("PUT", "/users/{user_id}/sysadmin"),
            ("GET", "/users/current/permissions"),
            ("GET", "/robots"),
            ("POST", "/robots"),
            ("GET", "/robots/{robot_id}"),
            ("PUT", "/robots/{robot_id}"),
            ("PATCH", "/robots/{robot_id}"),
            ("DELETE", "/robots/{robot_id}"),
            ("GET", "/permissions"),
            ("GET", "/audit-logs"),
            ("GET", "/projects/{project_name}/logs"),
            ("GET", "/search"),
            ("GET", "/statistics"),
        ] {
            let op = (method.to_owned(), format!("{BASE}{path}"));
            assert!(
                ops.contains(&op),
                "{op:?} is not documented under Harbor's path"
            );
        }
        // Harbor's operation ids and schema names, so generated clients line up.
        let id = |path: &str, method: &str| {
            doc["paths"][format!("{BASE}{path}")][method]["operationId"].clone()
        };
        assert_eq!(id("/robots", "post"), "CreateRobot");
        assert_eq!(id("/robots/{robot_id}", "patch"), "RefreshSec");
        assert_eq!(id("/users", "get"), "listUsers");
        assert_eq!(id("/audit-logs", "get"), "listAuditLogs");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in [
            "UserResp",
            "UserCreationReq",
            "UserProfile",
            "PasswordReq",
            "UserSysAdminFlag",
            "UserSearchRespItem",
            "Robot",
            "RobotCreate",
            "RobotCreated",
            "RobotSec",
            "RobotPermission",
            "Access",
            "Permission",
            "Permissions",
            "AuditLog",
            "Search",
            "SearchRepository",
            "Statistic",
        ] {
            assert!(schemas.contains_key(name), "schema {name} missing");
        }
        let created = &schemas["RobotCreated"]["properties"];
        for field in ["id", "name", "secret", "creation_time", "expires_at"] {
            assert!(created.get(field).is_some(), "RobotCreated.{field}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_page_is_served_offline() {
    support::run(Backend::Sqlite, |db| async move {
        let api = Api::new(db).await;
        let page = api.get(&format!("{BASE}/docs/"), None).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(
            page.header("content-type")
                .is_some_and(|t| t.starts_with("text/html"))
        );
        assert!(page.text.contains("swagger-ui"), "{}", page.text);
        // Every script and stylesheet comes from the binary, not from a CDN.
        let mut assets = Vec::new();
        for attr in ["src=\"", "href=\""] {
            for (at, _) in page.text.match_indices(attr) {
                let rest = &page.text[at + attr.len()..];
                let url = &rest[..rest.find('"').unwrap_or(rest.len())];
                assert!(
                    !url.contains("://") && !url.starts_with("//"),
                    "external asset {url}"
                );
                assets.push(url.trim_start_matches("./").to_owned());
            }
        }
        assert!(assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
        for asset in assets {
            let res = api.get(&format!("{BASE}/docs/{asset}"), None).await;
            assert_eq!(res.status, 200, "asset {asset}");
        }
        let init = api
            .get(&format!("{BASE}/docs/swagger-initializer.js"), None)
            .await;
        assert!(
            init.text.contains("/api/v2.0/openapi.json"),
            "{}",
            init.text
        );
    })
    .await;
}

#[test]
fn route_parser_reads_the_forms_in_use() {
    let src = r#"
        const REPO: &str = "/p/{a}/r/{b}";
        const LONG: &str =
            "/p/{a}/r/{b}/x/{c}";
        Router::new()
            .route("/users", get(users::list).post(users::create))
            .route(
                "/robots/{id}",
                get(r::get).put(r::put).patch(r::patch).delete(r::delete),
            )
            .route(REPO, get(x::get))
            .route(&format!("{LONG}/tags/{{tag}}"), axum::routing::delete(t::delete))
            .route("/targets", get(a::get_target))
    "#;
    let consts = string_consts(src);
    assert_eq!(consts["LONG"], "/p/{a}/r/{b}/x/{c}");
    let mut found = BTreeSet::new();
    for (at, _) in src.match_indices(".route(") {
        let args = call_args(src, at + ".route".len());
        let (p, methods) = split_first_arg(args);
        let path = resolve_path(p, &consts).unwrap();
        for m in METHODS {
            if methods.match_indices(&format!("{m}(")).any(|(i, _)| {
                i == 0 || !methods[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            }) {
                found.insert(format!("{} {}", m, normalize(&path)));
            }
        }
    }
    let expected: BTreeSet<String> = [
        "get /users",
        "post /users",
        "get /robots/{}",
        "put /robots/{}",
        "patch /robots/{}",
        "delete /robots/{}",
        "get /p/{}/r/{}",
        "delete /p/{}/r/{}/x/{}/tags/{}",
        "get /targets",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(found, expected);
    assert_eq!(sample("/robots/{robot_id}/x/{name}"), "/robots/1/x/x");
}
