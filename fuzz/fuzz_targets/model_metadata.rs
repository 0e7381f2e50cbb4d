//! The model-metadata reader on any key/value text (one `key=value` per line), as an ONNX file's
//! metadata_props would hand it over.
#![no_main]

use std::collections::HashMap;

use coldframe::model_info::{ModelInfo, Task};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let props: HashMap<String, String> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Ok(info) = ModelInfo::from_props(&props, "fuzz") {
        // what the rest of the binary relies on once a model is accepted
        assert!(info.max_t() >= 1 && info.stride >= 1);
        assert!(info.default_steps >= 1 && info.default_steps <= info.max_t());
        if let Task::Deblur(schedule) = &info.task {
            assert_eq!(schedule.sigmas.len(), info.max_t() + 1);
        }
    }
});
