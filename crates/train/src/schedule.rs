//! Learning-rate schedules, step for step as Hugging Face's
//! `get_linear_schedule_with_warmup` / `get_constant_schedule_with_warmup`: the update at
//! optimizer step s (0-based) uses factor λ(s); warmup lasts ⌊T·warmup_fraction⌋ steps, the
//! `int(t_total * warmup)` of all three reference codes (google-research/bert `run_classifier.py`,
//! Mosbach's `run_finetuning.py`, Zhang's `run_glue.py`) — not the ⌈·⌉ of today's HF Trainer.

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
            // Python's int() of the same float64 product: truncation.
            warmup_steps: (total_steps as f64 * warmup_fraction).trunc() as u64,
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
    }

    /// `int(T·w)` as the reference codes, not ⌈T·w⌉ (which gave 4 for T = 33
    /// and one warmup step, a first update at rate 0, for T = 9).
    #[test]
    fn warmup_steps_truncate() {
        assert_eq!(LrSchedule::new(Schedule::Linear, 33, 0.1).warmup_steps, 3);
        assert_eq!(LrSchedule::new(Schedule::Linear, 468, 0.1).warmup_steps, 46);
        assert_eq!(LrSchedule::new(Schedule::Linear, 9, 0.1).warmup_steps, 0);
        // No warmup steps: the first update already uses the peak rate, as HF's schedule.
        assert_eq!(LrSchedule::new(Schedule::Linear, 9, 0.1).factor(0), 1.0);
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
