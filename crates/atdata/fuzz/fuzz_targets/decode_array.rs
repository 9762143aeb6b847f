//! Any bytes as a compact (or .npy) array buffer: an array or an error, never a panic or an
//! allocation beyond the input. What decodes must re-encode and decode to the same array.
#![no_main]

use atdata::codec::{decode_array, decode_array_view, encode_array};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_array_view(data);
    if let Ok(a) = decode_array(data) {
        let mut out = Vec::new();
        encode_array(&a, &mut out);
        let again = decode_array(&out).expect("an encoded array decodes");
        assert_eq!(again, a);
    }
});
