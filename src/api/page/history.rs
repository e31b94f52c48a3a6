//! The status page's history of the document: each manifest version, whether and by whom it
//! was ratified, what changed from the version before, and the divergences it resolved.

use maud::{html, Markup};

use crate::history::VersionHistory;

/// The section, newest version first.
pub(super) fn history(versions: &[VersionHistory]) -> Markup {
    html! {
        section id="history" {
            h2 { "History of the document" }
            @if versions.is_empty() {
                p class="muted" { "No version." }
            }
            ol reversed class="history" {
                @for v in versions.iter().rev() {
                    li id={ "version-" (v.version) } {
                        strong { "Version " (v.version) }
                        " · in force from block " (v.effective_block) " · "
                        span class="mono" { (v.hash) }
                        br;
                        @if v.ratification.is_some() {
                            span class="ratified" { (v.ratified) }
                        } @else {
                            span class="unratified bad" { (v.ratified) }
                        }
                        @if !v.changes.is_empty() {
                            ul class="changes" {
                                @for c in &v.changes {
                                    li { span class="mono" { (c.subject) } ": " (c.change) }
                                }
                            }
                        } @else if v.version > 1 {
                            p class="muted" { "No structural change." }
                        }
                        @if !v.resolved.is_empty() {
                            p { "Resolved:" }
                            ul class="resolved" {
                                @for d in &v.resolved {
                                    li {
                                        "#" (d.n) " " span class="mono" { (d.rule) }
                                        " (" (d.severity) ") " (d.item) " on "
                                        span class="mono" { (d.subject) }
                                        " at block " (d.resolved_block)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
