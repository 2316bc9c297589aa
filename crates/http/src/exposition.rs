//! The Prometheus text exposition format (version 0.0.4): one `# HELP` and one `# TYPE` line per
//! metric family, then its samples, label values escaped.

use std::fmt::Write as _;

/// The content type scrapers expect for this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A metric family's type, as written on its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

/// Builds one exposition document. Families must be started once each: the format allows a
/// family's samples only in one block.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

/// A label set: (name, value) pairs, written in this order.
pub type Labels<'a> = [(&'a str, &'a str)];

impl Exposition {
    /// Starts family `name`, with its help text and type.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample of the current family (`name` may add `_bucket`, `_sum`, `_count`).
    pub fn sample(&mut self, name: &str, labels: &Labels<'_>, value: f64) {
        self.out.push_str(name);
        write_labels(&mut self.out, labels, None);
        self.out.push(' ');
        write_value(&mut self.out, value);
        self.out.push('\n');
    }

    /// The samples of one histogram series: `counts` per bucket (not cumulative) whose upper
    /// bounds are `bounds`, the last count for `+Inf`.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &Labels<'_>,
        bounds: &[f64],
        counts: &[u64],
        sum: f64,
    ) {
        let mut cumulative = 0u64;
        for (i, count) in counts.iter().enumerate() {
            cumulative += count;
            let le = bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| format_value(*b));
            let _ = write!(self.out, "{name}_bucket");
            write_labels(&mut self.out, labels, Some(&le));
            let _ = writeln!(self.out, " {cumulative}");
        }
        self.sample(&format!("{name}_sum"), labels, sum);
        #[allow(clippy::cast_precision_loss)] // counts stay far below 2^53
        self.sample(&format!("{name}_count"), labels, cumulative as f64);
    }

    #[must_use]
    pub fn finish(self) -> String {
        self.out
    }
}

fn write_labels(out: &mut String, labels: &Labels<'_>, le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (name, value) in labels.iter().copied().chain(le.map(|v| ("le", v))) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

fn format_value(v: f64) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_escaped_labels_and_cumulative_buckets() {
        let mut e = Exposition::default();
        e.family("m_total", "Things.", Kind::Counter);
        e.sample("m_total", &[("topic", "a\"b\\c\nd")], 3.0);
        e.family("h", "Sizes.", Kind::Histogram);
        e.histogram("h", &[("t", "x")], &[1.0, 2.5], &[1, 2, 3], 10.0);
        assert_eq!(
            e.finish(),
            "# HELP m_total Things.\n# TYPE m_total counter\n\
             m_total{topic=\"a\\\"b\\\\c\\nd\"} 3\n\
             # HELP h Sizes.\n# TYPE h histogram\n\
             h_bucket{t=\"x\",le=\"1\"} 1\nh_bucket{t=\"x\",le=\"2.5\"} 3\n\
             h_bucket{t=\"x\",le=\"+Inf\"} 6\nh_sum{t=\"x\"} 10\nh_count{t=\"x\"} 6\n"
        );
    }
}
