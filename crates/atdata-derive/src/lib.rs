//! `#[derive(Packable)]` for atdata sample types (implementation in progress).
#![forbid(unsafe_code)]
use proc_macro::TokenStream;

/// Derives `atdata::Packable`.
#[proc_macro_derive(Packable, attributes(atdata))]
pub fn derive_packable(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
