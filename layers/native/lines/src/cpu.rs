//! The vector registers' upper halves, cleared (`vzeroupper`) as a writer starts a line.
//!
//! Code that runs between two calls of a writer may leave the upper halves of the AVX
//! registers dirty (in the pipeline something does, line after line: which library was not
//! pinned down); on Intel cores every SSE instruction then pays a merge with them, and the
//! writers are SSE code (small copies, mostly). Measured with the pipeline on the benchmark's
//! 20 MB objects (CPU seconds, medians of 9 interleaved in one process, a 2-vCPU Xeon with
//! AVX-512): ALB 0.149 without clearing, 0.114 with; VPC flow 0.441, 0.353; NLB 0.217, 0.172.
//! One instruction a line; a no-op on other architectures (the Lambda's arm64) and without AVX.

/// `vzeroupper`, where the CPU has AVX (detected once; the check is a load and a test).
#[inline]
pub fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU has AVX (checked above), which is all vzeroupper needs.
        unsafe { zero_upper() }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zero_upper() {
    std::arch::x86_64::_mm256_zeroupper()
}
