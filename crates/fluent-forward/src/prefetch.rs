//! A hint to the CPU that memory is about to be read or written, so that its cache miss overlaps
//! other work. Only a hint: it never faults and changes nothing, whatever the address.

/// Starts fetching the cache line holding `p` (no-op on targets without the instruction here).
#[inline(always)]
pub fn line<T>(p: *const T) {
  #[cfg(target_arch = "x86_64")]
  // SAFETY: a prefetch reads nothing the program can see and cannot fault, whatever the address;
  // SSE, which it needs, is part of the x86-64 baseline.
  unsafe {
    core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
  }
  #[cfg(not(target_arch = "x86_64"))]
  let _ = p;
}
