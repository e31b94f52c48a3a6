//! `/metrics` read by a real Prometheus text parser (`prometheus-parse`), with look-ups by
//! name and labels.

use prometheus_parse::{Sample, Scrape, Value};

/// One parsed exposition.
pub struct Exposition {
    pub scrape: Scrape,
    text: String,
}

/// A histogram's series: its buckets (upper bound, cumulative count, `+Inf` last), count and sum.
#[derive(Debug)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
    pub count: f64,
    pub sum: f64,
}

impl Exposition {
    /// Parses `text`, refusing anything the parser skips (a line it cannot read is a sample
    /// lost, so the exposition is wrong).
    pub fn parse(text: &str) -> Exposition {
        let scrape =
            Scrape::parse(text.lines().map(|l| Ok(mask_quoted_braces(l)))).expect("parses");
        let lines = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        let read: usize = scrape
            .samples
            .iter()
            .map(|s| match &s.value {
                Value::Histogram(b) => b.len(),
                Value::Summary(q) => q.len(),
                _ => 1,
            })
            .sum();
        assert_eq!(read, lines, "every sample line is read:\n{text}");
        Exposition {
            scrape,
            text: text.to_owned(),
        }
    }

    /// Every sample of family `name` (a histogram's `_sum` and `_count` are families of their
    /// own to the parser) whose labels include `labels`.
    pub fn samples<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.scrape.samples.iter().filter(move |s| {
            s.metric == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k) == Some(mask(v).as_str()))
        })
    }

    /// The one counter or gauge `name` with `labels`, or `None` if there is none.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<_> = self.samples(name, labels).collect();
        assert!(
            found.len() <= 1,
            "{name} {labels:?} is ambiguous:\n{}",
            self.text
        );
        found.first().map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{name} is not a single value"),
        })
    }

    /// Whether `name` is declared with this `# TYPE`.
    pub fn has_type(&self, name: &str, kind: &str) -> bool {
        self.text
            .lines()
            .any(|l| l == format!("# TYPE {name} {kind}"))
    }

    /// The one histogram `name` with `labels`, or `None` if there is none.
    pub fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Option<Histogram> {
        let found: Vec<_> = self.samples(name, labels).collect();
        assert!(
            found.len() <= 1,
            "{name} {labels:?} is ambiguous:\n{}",
            self.text
        );
        let s = found.first()?;
        let Value::Histogram(b) = &s.value else {
            panic!("{name} is not a histogram:\n{}", self.text);
        };
        let mut buckets: Vec<(f64, f64)> = b.iter().map(|c| (c.less_than, c.count)).collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        // The series' own labels, for its `_sum` and `_count`.
        let own: Vec<(&str, &str)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let one = |suffix: &str| {
            let family = format!("{name}{suffix}");
            let found: Vec<_> = self
                .scrape
                .samples
                .iter()
                .filter(|x| {
                    x.metric == family
                        && x.labels.len() == own.len()
                        && own.iter().all(|(k, v)| x.labels.get(k) == Some(*v))
                })
                .collect();
            assert_eq!(found.len(), 1, "{family} {own:?}:\n{}", self.text);
            match found[0].value {
                Value::Untyped(v) | Value::Counter(v) | Value::Gauge(v) => v,
                _ => panic!("{family} is not a single value"),
            }
        };
        Some(Histogram {
            buckets,
            count: one("_count"),
            sum: one("_sum"),
        })
    }
}

/// `prometheus-parse` reads a sample's labels up to the first `}`, even one inside a quoted
/// value, and then drops the line; a route template (`/v1/groups/{id}`) is such a value. The
/// braces inside quotes are swapped for look-alikes before parsing, and the values looked up
/// are swapped the same way.
fn mask_quoted_braces(line: &str) -> String {
    if line.starts_with('#') {
        return line.to_owned();
    }
    let mut quoted = false;
    let mut escaped = false;
    line.chars()
        .map(|c| {
            let out = match c {
                '{' if quoted => '⦃',
                '}' if quoted => '⦄',
                c => c,
            };
            if c == '"' && !escaped {
                quoted = !quoted;
            }
            escaped = c == '\\' && !escaped;
            out
        })
        .collect()
}

/// A label value as it reads after [`mask_quoted_braces`].
fn mask(value: &str) -> String {
    value.replace('{', "⦃").replace('}', "⦄")
}

impl Histogram {
    /// The buckets' upper bounds, `+Inf` left out.
    pub fn bounds(&self) -> Vec<f64> {
        self.buckets
            .iter()
            .map(|b| b.0)
            .filter(|b| b.is_finite())
            .collect()
    }

    /// Sound: cumulative counts that never fall, and a `+Inf` bucket equal to the count.
    pub fn assert_sound(&self) {
        assert!(
            self.buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{self:?}"
        );
        let inf = self.buckets.last().expect("buckets");
        assert!(inf.0.is_infinite() && inf.1 == self.count, "{self:?}");
    }
}
