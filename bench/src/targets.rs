//! The issue-17 targets, gathered over a run and printed last, each as its measured figure
//! beside what is required and whether it is met on this machine.

/// Which way a target is met.
#[derive(Clone, Copy)]
enum Bound {
    AtLeast,
    AtMost,
}

/// One target and its measured figure.
struct Target {
    name: String,
    measured: f64,
    bound: Bound,
    required: f64,
    unit: &'static str,
}

impl Target {
    fn met(&self) -> bool {
        match self.bound {
            Bound::AtLeast => self.measured >= self.required,
            Bound::AtMost => self.measured <= self.required,
        }
    }
}

/// The targets measured so far in this run.
#[derive(Default)]
pub struct Targets(Vec<Target>);

impl Targets {
    /// A ratio that must be at least `required` (e.g. `worker / baseline >= 1.0`).
    pub fn ratio(&mut self, name: impl Into<String>, measured: f64, required: f64) {
        self.push(name, measured, Bound::AtLeast, required, "x");
    }

    /// A figure that must be at least `required` `unit`.
    pub fn at_least(
        &mut self,
        name: impl Into<String>,
        measured: f64,
        required: f64,
        unit: &'static str,
    ) {
        self.push(name, measured, Bound::AtLeast, required, unit);
    }

    /// A figure that must be at most `limit` `unit`.
    pub fn at_most(
        &mut self,
        name: impl Into<String>,
        measured: f64,
        limit: f64,
        unit: &'static str,
    ) {
        self.push(name, measured, Bound::AtMost, limit, unit);
    }

    fn push(
        &mut self,
        name: impl Into<String>,
        measured: f64,
        bound: Bound,
        required: f64,
        unit: &'static str,
    ) {
        self.0.push(Target {
            name: name.into(),
            measured,
            bound,
            required,
            unit,
        });
    }

    /// Prints every target, then how many are met.
    pub fn print(&self) {
        if self.0.is_empty() {
            return;
        }
        println!("issue-17 targets on this machine");
        for t in &self.0 {
            let (sign, digits) = match (t.bound, t.unit) {
                (Bound::AtLeast, "x") => (">=", 2),
                (Bound::AtLeast, _) => (">=", 0),
                (Bound::AtMost, _) => ("<=", 0),
            };
            let shown = |v: f64| format!("{v:.digits$}{}", t.unit);
            println!(
                "  {:<58} {:>12}  (target {sign} {:<8}) {}",
                t.name,
                shown(t.measured),
                shown(t.required),
                if t.met() { "met" } else { "NOT met" }
            );
        }
        let met = self.0.iter().filter(|t| t.met()).count();
        println!("  {met} of {} targets met", self.0.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_met_on_their_own_side() {
        let mut t = Targets::default();
        t.ratio("r", 1.0, 1.0);
        t.at_least("l", 999.0, 1000.0, "/s");
        t.at_most("m", 100.0, 100.0, " MiB");
        t.at_most("n", 101.0, 100.0, " MiB");
        let met: Vec<bool> = t.0.iter().map(Target::met).collect();
        assert_eq!(met, [true, false, true, false]);
    }
}
