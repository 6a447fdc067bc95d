//! Learning-rate schedules, step for step as Hugging Face's
//! `get_linear_schedule_with_warmup` / `get_constant_schedule_with_warmup`: the update at
//! optimizer step s (0-based) uses factor λ(s); warmup lasts ⌈T·warmup_fraction⌉ steps.

use stab_spec::Schedule;

#[derive(Debug, Clone, Copy)]
pub struct LrSchedule {
    pub kind: Schedule,
    pub total_steps: u64,
    pub warmup_steps: u64,
}

impl LrSchedule {
    pub fn new(kind: Schedule, total_steps: u64, warmup_fraction: f64) -> Self {
        LrSchedule {
            kind,
            total_steps,
            warmup_steps: (total_steps as f64 * warmup_fraction).ceil() as u64,
        }
    }

    /// Multiplier of the peak learning rate for the update at 0-based step `s`.
    pub fn factor(&self, s: u64) -> f64 {
        let (s, w, t) = (s as f64, self.warmup_steps as f64, self.total_steps as f64);
        match self.kind {
            Schedule::Constant => 1.0,
            _ if s < w => s / w.max(1.0),
            Schedule::WarmupConstant => 1.0,
            Schedule::Linear => ((t - s) / (t - w).max(1.0)).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_warmup_then_decay_like_hf() {
        let s = LrSchedule::new(Schedule::Linear, 100, 0.1);
        assert_eq!(s.warmup_steps, 10);
        assert_eq!(s.factor(0), 0.0);
        assert_eq!(s.factor(5), 0.5);
        assert_eq!(s.factor(10), 1.0);
        assert_eq!(s.factor(55), 0.5);
        assert_eq!(s.factor(100), 0.0);
        // ⌈T·f⌉ as HF's get_warmup_steps.
        assert_eq!(LrSchedule::new(Schedule::Linear, 33, 0.1).warmup_steps, 4);
    }

    #[test]
    fn constant_variants() {
        let c = LrSchedule::new(Schedule::Constant, 10, 0.5);
        assert_eq!(c.factor(0), 1.0);
        let w = LrSchedule::new(Schedule::WarmupConstant, 10, 0.5);
        assert_eq!(w.factor(1), 0.2);
        assert_eq!(w.factor(9), 1.0);
    }
}
