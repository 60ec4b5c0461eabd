//! The vector registers' upper halves, cleared (`vzeroupper`) as a writer starts a line.
//!
//! Code before a writer (gzip's inflate, the C runtime's string routines) may leave the upper
//! halves of the AVX registers dirty; on Intel cores every SSE instruction then pays a merge
//! with them, and the writers are SSE code (small copies, mostly). Measured on the ALB
//! benchmark object (20 MB, in one process, x86-64 Xeon with AVX-512): 0.165 s of CPU for the
//! whole pipeline without clearing them, 0.109 s with (one instruction a line). A no-op on
//! other architectures and on x86-64 without AVX.

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
