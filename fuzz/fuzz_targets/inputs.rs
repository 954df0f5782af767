//! Fuzz the parts that take user input before any network: URL-list lines, per-line request
//! forms, URL checks, `--range`/`--template` expansion, and output file names (which must
//! never escape the output directory).
#![no_main]

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use poolfetch::fuzzing::{
    Line, RequestTemplate, check_url, expand_template, file_name, parse_range, url_lines,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 3 {
        0 => {
            let template = RequestTemplate::default();
            for line in url_lines(rest).flatten() {
                if let Line::Url(text) = &line {
                    assert!(!text.is_empty() && !text.starts_with('#'));
                }
                let request = line.into_request(&template);
                let _ = check_url(&request.url);
            }
        }
        1 => {
            let (range, template) = text.split_once('|').unwrap_or((&text, "x{}"));
            if let Ok(range) = parse_range(range) {
                assert!(range.start() <= range.end());
                if let Ok(urls) = expand_template(template, range.clone()) {
                    for url in urls.take(4) {
                        assert!(!url.contains("{}") || template.matches("{}").count() > 0);
                    }
                }
            }
        }
        _ => {
            let index = u64::from(rest.first().copied().unwrap_or(0));
            let name = file_name(index, &text);
            let dir = Path::new("/srv/out");
            let path = dir.join(&name);
            assert_eq!(path.parent(), Some(dir), "{name:?} escapes");
            assert!(name.len() <= 107, "{name:?} is too long");
            assert!(!name.starts_with('.'));
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "{name:?}");
            assert!(Path::new(&name).components().all(|c| matches!(c, Component::Normal(_))));
        }
    }
});
