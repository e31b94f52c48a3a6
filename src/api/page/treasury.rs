//! The page's treasury section: per treasury, what it holds of each asset (and how much came in
//! and went out over 30 days of block time), a small inline SVG chart of each balance's recent
//! history (a `<polyline>`, no JavaScript), and the largest outflows with the decision behind
//! each. The data is [`crate::holdings::TreasuryView`], read with a bounded number of queries.

use alloy::primitives::U256;
use maud::{html, Markup};

use super::view::short;
use super::PageView;
use crate::holdings::{AssetHolding, TreasuryHoldings, TreasuryView, WINDOW_DAYS};

/// The chart's drawing area, in SVG user units.
const CHART_WIDTH: f64 = 320.0;
const CHART_HEIGHT: f64 = 64.0;
const CHART_PAD: f64 = 4.0;

pub(super) fn treasury(v: &PageView) -> Markup {
    html! {
        section id="treasury" {
            h2 { "Treasury" }
            @match &v.treasury {
                None => p class="muted" { "The treasury could not be read." },
                Some(t) if t.treasuries.is_empty() => {
                    p class="muted" { "No movement of value recorded yet." }
                }
                Some(t) => (holdings(t)),
            }
        }
        "\n"
    }
}

fn holdings(t: &TreasuryView) -> Markup {
    html! {
        p class="muted" {
            "Balances at block " (t.synced_block) "; inflows and outflows over the last "
            (WINDOW_DAYS) " days of block time"
            @if let (Some(from), Some(to)) = (&t.window_from_time, &t.window_to_time) {
                " (" (from) " to " (to) ")"
            }
            ". Amounts in token units; no fiat values."
        }
        @for one in &t.treasuries { (treasury_block(one)) }
        @if t.truncated {
            p class="muted" { "More assets were touched than are shown here." }
        }
    }
}

fn treasury_block(t: &TreasuryHoldings) -> Markup {
    html! {
        div class="treasury" data-treasury=(t.address) {
            h3 class="mono" { (t.address) }
            table class="holdings" {
                thead { tr {
                    th { "Asset" } th { "Balance" } th { "In (" (WINDOW_DAYS) " days)" }
                    th { "Out (" (WINDOW_DAYS) " days)" } th { "History" }
                } }
                tbody {
                    @for h in &t.assets {
                        tr data-asset=(h.info.asset) {
                            td {
                                (h.info.symbol)
                                @if h.info.asset != "native" {
                                    br; span class="mono muted" { (short(&h.info.asset)) }
                                }
                            }
                            td class="balance" { (h.balance.formatted) }
                            td { (h.inflow.formatted) " · " (h.inflow_count) }
                            td { (h.outflow.formatted) " · " (h.outflow_count) }
                            td { (chart(h)) }
                        }
                    }
                }
            }
            @if !t.largest_outflows.is_empty() {
                h4 { "Largest outflows" }
                table class="outflows" {
                    thead { tr {
                        th { "Amount" } th { "To" } th { "Block" } th { "Decision" } th { "Transaction" }
                    } }
                    tbody {
                        @for o in &t.largest_outflows {
                            tr {
                                td { (o.amount.formatted) }
                                td class="mono" { (o.counterparty) }
                                td {
                                    (o.block_number)
                                    @if let Some(time) = &o.block_time { br; span class="muted" { (time) } }
                                }
                                td {
                                    @match &o.decision {
                                        Some(d) => {
                                            (d.kind.replace('_', " ")) " "
                                            span class="mono" { (short(&d.id)) }
                                        }
                                        None => span class="differs" { "no recorded decision" },
                                    }
                                }
                                td class="mono" { (short(&o.tx_hash)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A balance as a number to plot (the chart needs no more precision than a float gives).
fn plotted(balance: &str) -> f64 {
    balance
        .parse::<U256>()
        .ok()
        .and_then(|v| v.to_string().parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// The points of `h`'s history in the chart's area: blocks across, balance up.
pub(super) fn chart_points(h: &AssetHolding) -> Vec<(f64, f64)> {
    let points: Vec<(f64, f64)> = h
        .history
        .iter()
        .map(|p| (p.block_number as f64, plotted(&p.balance)))
        .collect();
    let (min_x, max_x) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let max_y = points.iter().fold(0.0f64, |m, p| m.max(p.1));
    let span_x = (max_x - min_x).max(1.0);
    let span_y = if max_y > 0.0 { max_y } else { 1.0 };
    points
        .iter()
        .map(|(x, y)| {
            (
                CHART_PAD + (x - min_x) / span_x * (CHART_WIDTH - 2.0 * CHART_PAD),
                CHART_HEIGHT - CHART_PAD - y / span_y * (CHART_HEIGHT - 2.0 * CHART_PAD),
            )
        })
        .collect()
}

fn chart(h: &AssetHolding) -> Markup {
    if h.history.len() < 2 {
        return html! { span class="muted" { "—" } };
    }
    let points: Vec<String> = chart_points(h)
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let first = h.history.first().map(|p| p.block_number).unwrap_or(0);
    let last = h.history.last().map(|p| p.block_number).unwrap_or(0);
    let label = format!(
        "{} balance from block {first} to block {last}",
        h.info.symbol
    );
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            width=(CHART_WIDTH) height=(CHART_HEIGHT)
            viewBox={ "0 0 " (CHART_WIDTH) " " (CHART_HEIGHT) } {
            title { (label) }
            line x1=(CHART_PAD) y1=(CHART_HEIGHT - CHART_PAD) x2=(CHART_WIDTH - CHART_PAD)
                y2=(CHART_HEIGHT - CHART_PAD) stroke="#ccc" stroke-width="1" {}
            polyline fill="none" stroke="#2f4f7f" stroke-width="1.5"
                data-points=(h.history.len()) points=(points.join(" ")) {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, hostile};
    use super::super::render;
    use std::time::Instant;

    #[test]
    fn the_section_shows_balances_a_chart_and_outflows() {
        let html = render(&fixture::rich(&|s| s.to_string()), Instant::now());
        assert!(html.contains("id=\"treasury\""), "{html}");
        assert!(html.contains("98.5 ETH"));
        assert!(html.contains("<polyline"));
        assert!(html.contains("data-points=\"3\""));
        assert!(html.contains("safe execution"));
        assert!(html.contains("no recorded decision"));
    }

    #[test]
    fn a_hostile_symbol_is_escaped() {
        let html = render(&fixture::rich(&hostile), Instant::now());
        assert!(!html.contains("<script>alert('MKR')"), "{html}");
        assert!(html.contains("MKR&quot;'&gt;&lt;script&gt;"));
    }

    #[test]
    fn the_chart_spans_its_area() {
        let v = fixture::rich(&|s| s.to_string());
        let t = v.treasury.unwrap();
        let points = super::chart_points(&t.treasuries[0].assets[0]);
        assert_eq!(points.len(), 3);
        assert_eq!(
            points[0],
            (super::CHART_PAD, super::CHART_HEIGHT - super::CHART_PAD)
        );
        assert_eq!(points[1], (super::CHART_WIDTH / 2.0, super::CHART_PAD));
    }
}
