//! Who may change the registry from a browser. The admin token is entered once on the
//! login page and kept as a session cookie — a hash of the token, never the token —
//! HttpOnly and SameSite=Strict; every POST must also come from this site's own pages (its
//! Origin, or else its Referer, names this host), which stops cross-site requests.

use crate::layout::page;
use crate::Ui;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

const COOKIE: &str = "mlpc_ui_session";

/// The cookie's value for a token.
fn session(token: &str) -> String {
    format!("{:x}", Sha256::digest(format!("mlpc ui session\0{token}").as_bytes()))
}

/// Byte-wise comparison whose time does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

/// Whether the request carries a valid session.
pub fn signed_in(ui: &Ui, headers: &HeaderMap) -> bool {
    match (&ui.admin_token, cookie(headers, COOKIE)) {
        (Some(token), Some(given)) => same(given.as_bytes(), session(token).as_bytes()),
        _ => false,
    }
}

/// Refuses a POST that did not come from this site's own pages.
pub fn same_origin(headers: &HeaderMap) -> Result<(), Box<Response>> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let origin = format!("http://{host}");
    let from = |name| headers.get(name).and_then(|v: &header::HeaderValue| v.to_str().ok());
    let ok = match (from(header::ORIGIN), from(header::REFERER)) {
        (Some(o), _) => o == origin,
        (None, Some(r)) => r.starts_with(&format!("{origin}/")),
        (None, None) => false,
    };
    if ok && !host.is_empty() {
        Ok(())
    } else {
        Err(Box::new(
            (StatusCode::FORBIDDEN, "refused: this request did not come from this site's pages (Origin check)")
                .into_response(),
        ))
    }
}

/// Where to go after signing in: only a page of this UI.
fn next_page(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with("/ui/") && !n.starts_with("/ui//")).unwrap_or("/ui/registry")
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

pub async fn login_form(State(ui): State<Arc<Ui>>, Query(q): Query<Next>) -> impl IntoResponse {
    let next = next_page(q.next.as_deref());
    page(
        "Sign in",
        "",
        html! {
            @if ui.admin_token.is_none() {
                p.error role="alert" { "Registry changes are off: start with MLPC_ADMIN_TOKEN set (or --admin-token-file FILE)." }
            } @else {
                p { "Approving, promoting and rolling back need the admin token." }
                form method="post" action="/ui/login" {
                    input type="hidden" name="next" value=(next);
                    label { "Admin token" input type="password" name="token" autocomplete="current-password" required; }
                    " "
                    button.primary type="submit" { "Sign in" }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct Login {
    token: String,
    next: Option<String>,
}

pub async fn login(State(ui): State<Arc<Ui>>, headers: HeaderMap, Form(f): Form<Login>) -> Response {
    if let Err(refused) = same_origin(&headers) {
        return *refused;
    }
    let Some(token) = &ui.admin_token else {
        return (StatusCode::FORBIDDEN, "registry changes are off: no admin token is set").into_response();
    };
    if !same(f.token.trim().as_bytes(), token.as_bytes()) {
        let body = page(
            "Sign in",
            "",
            html! { p.error role="alert" { "The token is wrong." } a href="/ui/login" { "Try again" } },
        );
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    let cookie = format!("{COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict", session(token));
    ([(header::SET_COOKIE, cookie)], Redirect::to(next_page(f.next.as_deref()))).into_response()
}

pub async fn logout(headers: HeaderMap) -> Response {
    if let Err(refused) = same_origin(&headers) {
        return *refused;
    }
    let cookie = format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/ui/")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), v.parse().unwrap())).collect()
    }

    #[test]
    fn a_post_from_another_site_is_refused() {
        let host = (header::HOST, "127.0.0.1:8090");
        assert!(same_origin(&headers(&[host.clone(), (header::ORIGIN, "http://127.0.0.1:8090")])).is_ok());
        assert!(same_origin(&headers(&[host.clone(), (header::REFERER, "http://127.0.0.1:8090/ui/x")])).is_ok());
        assert!(same_origin(&headers(&[host.clone(), (header::ORIGIN, "http://evil.example")])).is_err());
        assert!(same_origin(&headers(&[host.clone(), (header::REFERER, "http://127.0.0.1:8090.evil/")])).is_err());
        assert!(same_origin(&headers(&[host])).is_err(), "neither Origin nor Referer");
    }

    #[test]
    fn only_this_ui_is_a_place_to_go_next() {
        assert_eq!(next_page(Some("/ui/registry/m")), "/ui/registry/m");
        assert_eq!(next_page(Some("https://evil.example/")), "/ui/registry");
        assert_eq!(next_page(Some("/ui//evil.example")), "/ui/registry");
    }
}
