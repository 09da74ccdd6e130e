//! The page shell (navigation, skip link, assets) and small shared pieces.

use maud::{html, Markup, DOCTYPE};

const NAV: [(&str, &str); 4] =
    [("Pipeline", "/ui/"), ("Runs", "/ui/runs"), ("Registry", "/ui/registry"), ("Serving", "/ui/serving")];

/// A whole page; `active` is the navigation entry's label.
pub fn page(title: &str, active: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No favicon to fetch: a 404 would be a console error.
                link rel="icon" href="data:,";
                title { (title) " · mlpc" }
                link rel="stylesheet" href="/ui/assets/style.css";
                script src="/ui/assets/htmx.min.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        span.brand { "mlpc" }
                        @for (label, href) in NAV {
                            @if label == active {
                                a href=(href) aria-current="page" { (label) }
                            } @else {
                                a href=(href) { (label) }
                            }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A status word as a coloured badge (colour and text: never colour alone).
pub fn status(s: &str) -> Markup {
    html! { span class={ "badge st-" (s) } { (s) } }
}

/// The first 12 characters of a hash, the whole in a tooltip.
pub fn hash(sha: &str) -> Markup {
    html! { code title=(sha) { (sha.chars().take(12).collect::<String>()) } }
}
