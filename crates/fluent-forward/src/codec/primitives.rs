//! msgpack headers and scalars we emit, written into a caller-owned buffer.
//! Always the shortest form, as the spec's examples and the reference encoders use.

pub fn write_array_header(out: &mut Vec<u8>, len: usize) {
  if len < 16 {
    out.push(0x90 | len as u8);
  } else if len <= u16::MAX as usize {
    out.push(0xdc);
    out.extend_from_slice(&(len as u16).to_be_bytes());
  } else {
    out.push(0xdd);
    out.extend_from_slice(&(len as u32).to_be_bytes());
  }
}

pub fn write_map_header(out: &mut Vec<u8>, len: usize) {
  if len < 16 {
    out.push(0x80 | len as u8);
  } else if len <= u16::MAX as usize {
    out.push(0xde);
    out.extend_from_slice(&(len as u16).to_be_bytes());
  } else {
    out.push(0xdf);
    out.extend_from_slice(&(len as u32).to_be_bytes());
  }
}

pub fn write_str_header(out: &mut Vec<u8>, len: usize) {
  if len < 32 {
    out.push(0xa0 | len as u8);
  } else if len <= u8::MAX as usize {
    out.push(0xd9);
    out.push(len as u8);
  } else if len <= u16::MAX as usize {
    out.push(0xda);
    out.extend_from_slice(&(len as u16).to_be_bytes());
  } else {
    out.push(0xdb);
    out.extend_from_slice(&(len as u32).to_be_bytes());
  }
}

pub fn write_str(out: &mut Vec<u8>, s: &str) {
  write_str_header(out, s.len());
  out.extend_from_slice(s.as_bytes());
}

pub fn write_bin_header(out: &mut Vec<u8>, len: usize) {
  if len <= u8::MAX as usize {
    out.push(0xc4);
    out.push(len as u8);
  } else if len <= u16::MAX as usize {
    out.push(0xc5);
    out.extend_from_slice(&(len as u16).to_be_bytes());
  } else {
    out.push(0xc6);
    out.extend_from_slice(&(len as u32).to_be_bytes());
  }
}

pub fn write_uint(out: &mut Vec<u8>, v: u64) {
  if v < 128 {
    out.push(v as u8);
  } else if v <= u8::MAX as u64 {
    out.extend_from_slice(&[0xcc, v as u8]);
  } else if v <= u16::MAX as u64 {
    out.push(0xcd);
    out.extend_from_slice(&(v as u16).to_be_bytes());
  } else if v <= u32::MAX as u64 {
    out.push(0xce);
    out.extend_from_slice(&(v as u32).to_be_bytes());
  } else {
    out.push(0xcf);
    out.extend_from_slice(&v.to_be_bytes());
  }
}
