//! `#[derive(Packable)]` for atdata sample types.
//!
//! Use it through the core crate (`atdata::Packable`, feature `derive`, on by default). For a
//! struct with named fields it writes an `atdata::Packable` impl whose schema mirrors what the
//! Python package derives from a `@packable` dataclass:
//!
//! - schema name = the struct name, or `#[atdata(name = "...")]`; version `1.0.0`;
//! - fields in declaration order, each typed by its `FieldValue` impl (`Option<T>` is optional);
//!   a field's key is its name, or `#[atdata(rename = "...")]`;
//! - description = the struct's doc comment (the Python class docstring), `None` without one.
//!
//! `encode` writes the msgpack map straight from the fields, byte-identical to encoding
//! `to_fields()` but without cloning them; `from_sample` takes each field out of the sample and
//! its errors name the field.
//!
//! ```
//! use atdata::{Packable, NdArray};
//!
//! /// A text with its language.
//! #[derive(Packable)]
//! struct TextSample {
//!     text: String,
//!     #[atdata(rename = "lang")]
//!     language: String,
//!     embedding: Option<NdArray>,
//! }
//!
//! let schema = TextSample::schema();
//! assert_eq!(schema.name, "TextSample");
//! assert_eq!(schema.fields[1].name, "lang");
//! assert!(schema.fields[2].optional);
//! assert_eq!(schema.description.as_deref(), Some("A text with its language."));
//! ```
//!
//! Only structs with named fields derive; everything else is a compile error at the offending
//! item:
//!
//! ```compile_fail
//! #[derive(atdata::Packable)]
//! enum Label { Cat, Dog }
//! ```
//!
//! ```compile_fail
//! #[derive(atdata::Packable)]
//! struct Pair(String, i64);
//! ```
//!
//! ```compile_fail
//! #[derive(atdata::Packable)]
//! struct Marker;
//! ```
//!
//! ```compile_fail
//! #[derive(atdata::Packable)]
//! union Bits { a: u32, b: f32 }
//! ```
//!
//! ```compile_fail
//! #[derive(atdata::Packable)]
//! struct Twice { a: String, #[atdata(rename = "a")] b: String }
//! ```
//!
//! ```compile_fail
//! #[derive(atdata::Packable)]
//! struct Unknown { #[atdata(skip)] a: String }
//! ```
//!
//! ```compile_fail
//! // A field type without a FieldValue impl.
//! #[derive(atdata::Packable)]
//! struct Nested { inner: std::collections::HashMap<String, String> }
//! ```
//!
//! Generic structs derive with a `FieldValue` bound on each field type; lifetime and const
//! parameters are refused, since a sample is decoded into owned values:
//!
//! ```compile_fail
//! #[derive(atdata::Packable)]
//! struct Borrowed<'a> { text: &'a str }
//! ```
#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Expr, Fields, GenericParam, Lit, LitStr, Meta};

/// Derives `atdata::Packable` for a struct with named fields.
///
/// Attributes: `#[atdata(name = "...")]` on the struct sets the schema name;
/// `#[atdata(rename = "...")]` on a field sets its key in the schema and in the msgpack map.
#[proc_macro_derive(Packable, attributes(atdata))]
pub fn derive_packable(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// One field of the struct, as the generated code needs it.
struct FieldSpec<'a> {
    ident: &'a syn::Ident,
    ty: &'a syn::Type,
    key: String,
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let fields = named_fields(input)?;
    check_generics(&input.generics)?;
    let schema_name =
        struct_attrs(&input.attrs)?.unwrap_or_else(|| input.ident.unraw().to_string());

    let mut specs: Vec<FieldSpec<'_>> = Vec::with_capacity(fields.named.len());
    for f in &fields.named {
        let ident = f
            .ident
            .as_ref()
            .ok_or_else(|| syn::Error::new(f.span(), "expected a named field"))?;
        let key = field_attrs(&f.attrs)?.unwrap_or_else(|| ident.unraw().to_string());
        if let Some(prev) = specs.iter().find(|s| s.key == key) {
            return Err(syn::Error::new(
                f.span(),
                format!(
                    "field key '{key}' is used twice (also by field `{}`)",
                    prev.ident
                ),
            ));
        }
        specs.push(FieldSpec {
            ident,
            ty: &f.ty,
            key,
        });
    }
    let n = specs.len();
    let n_u32 = u32::try_from(n)
        .map_err(|_| syn::Error::new(input.ident.span(), "too many fields for a msgpack map"))?;

    let description = match doc_comment(&input.attrs) {
        Some(d) => quote!(::core::option::Option::Some(::std::string::String::from(#d))),
        None => quote!(::core::option::Option::None),
    };

    let name = &input.ident;
    let mut generics = input.generics.clone();
    if !generics.params.is_empty() {
        let where_clause = generics.make_where_clause();
        for s in &specs {
            let ty = s.ty;
            where_clause
                .predicates
                .push(syn::parse_quote!(#ty: ::atdata::packable::FieldValue));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let schema_fields = specs.iter().map(|s| {
        let (ty, key) = (s.ty, &s.key);
        quote!(::atdata::packable::__field::<#ty>(#key))
    });
    let to_fields = specs.iter().map(|s| {
        let (ident, ty, key) = (s.ident, s.ty, &s.key);
        quote! {
            fields.push((
                ::std::string::String::from(#key),
                <#ty as ::atdata::packable::FieldValue>::to_value(&self.#ident),
            ));
        }
    });
    let from_sample = specs.iter().map(|s| {
        let (ident, ty, key) = (s.ident, s.ty, &s.key);
        quote!(#ident: ::atdata::packable::take_field::<#ty>(&mut sample, #key)?)
    });
    let encode = specs.iter().map(|s| {
        let (ident, ty, key) = (s.ident, s.ty, &s.key);
        quote!(::atdata::packable::__encode_field::<#ty>(#key, &self.#ident, out);)
    });

    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics ::atdata::packable::Packable for #name #ty_generics #where_clause {
            fn schema() -> ::atdata::schema::Schema {
                let mut schema = ::atdata::schema::Schema::new(
                    #schema_name,
                    ::std::vec![#(#schema_fields),*],
                );
                schema.description = #description;
                schema
            }

            fn to_fields(&self) -> ::std::vec::Vec<(::std::string::String, ::atdata::value::Value)> {
                let mut fields = ::std::vec::Vec::with_capacity(#n);
                #(#to_fields)*
                fields
            }

            #[allow(unused_mut, unused_variables)]
            fn from_sample(mut sample: ::atdata::value::Sample) -> ::atdata::error::Result<Self> {
                ::core::result::Result::Ok(Self { #(#from_sample),* })
            }

            fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                ::atdata::packable::__encode_map_len(#n_u32, out);
                #(#encode)*
            }
        }
    })
}

fn named_fields(input: &DeriveInput) -> syn::Result<&syn::FieldsNamed> {
    let what = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => return Ok(named),
            Fields::Unnamed(_) => "a tuple struct",
            Fields::Unit => "a unit struct",
        },
        Data::Enum(_) => "an enum",
        Data::Union(_) => "a union",
    };
    Err(syn::Error::new(
        input.ident.span(),
        format!(
            "#[derive(Packable)] needs a struct with named fields (a sample is a map of field \
             names to values); `{}` is {what}",
            input.ident
        ),
    ))
}

fn check_generics(generics: &syn::Generics) -> syn::Result<()> {
    for p in &generics.params {
        match p {
            GenericParam::Type(_) => {}
            GenericParam::Lifetime(l) => {
                return Err(syn::Error::new(
                    l.span(),
                    "#[derive(Packable)] does not support lifetime parameters: samples are \
                     decoded into owned values",
                ))
            }
            GenericParam::Const(c) => {
                return Err(syn::Error::new(
                    c.span(),
                    "#[derive(Packable)] does not support const parameters",
                ))
            }
        }
    }
    Ok(())
}

/// Reads `#[atdata(key = "value")]` attributes allowing only `allowed`; returns the value.
fn string_attr(attrs: &[Attribute], allowed: &str, place: &str) -> syn::Result<Option<String>> {
    let mut found: Option<String> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("atdata")) {
        attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident(allowed) {
                return Err(meta.error(format!(
                    "unknown atdata attribute on {place}; expected `{allowed} = \"...\"`"
                )));
            }
            let lit: LitStr = meta.value()?.parse()?;
            let value = lit.value();
            if value.is_empty() {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("`{allowed}` must not be empty"),
                ));
            }
            if found.is_some() {
                return Err(meta.error(format!("`{allowed}` given twice")));
            }
            found = Some(value);
            Ok(())
        })?;
    }
    Ok(found)
}

fn struct_attrs(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    string_attr(attrs, "name", "a struct")
}

fn field_attrs(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    string_attr(attrs, "rename", "a field")
}

/// The struct's doc comment: `///` lines joined with newlines, each without the one space
/// rustdoc also drops, and the whole trimmed. `None` when absent or blank.
fn doc_comment(attrs: &[Attribute]) -> Option<String> {
    let mut lines: Vec<String> = Vec::new();
    for attr in attrs {
        let Meta::NameValue(nv) = &attr.meta else {
            continue;
        };
        if !nv.path.is_ident("doc") {
            continue;
        }
        if let Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) = &nv.value
        {
            // A blank `///` line is an empty string; `split` keeps it as a paragraph break.
            let text = s.value();
            for line in text.split('\n') {
                lines.push(
                    line.strip_prefix(' ')
                        .unwrap_or(line)
                        .trim_end()
                        .to_string(),
                );
            }
        }
    }
    let joined = lines.join("\n");
    let trimmed = joined.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}
