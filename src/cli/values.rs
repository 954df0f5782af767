//! The command line's own value enums, mapped onto the library's plain `Config` types (which
//! carry no clap derives, so the library builds without clap).

#[cfg(doc)]
use poolfetch::Order;

/// A value parser for one of the library's named enums: clap lists its `NAMES` as the
/// possible values, and the library's `FromStr` turns the word into the value.
pub(super) fn named<T>(
    names: &'static [&'static str],
) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = poolfetch::UnknownName> + Clone + Send + Sync + 'static,
{
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(names).try_map(|name| name.parse::<T>())
}
