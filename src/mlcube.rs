//! MLCube folders: which layout they use, what their manifest says, and the checks MedPerf
//! would otherwise only fail on after hosting (missing parameters, weights, images).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::error::InputError;

/// The manifest of the MLCube layout, at the cube's root.
pub const LEGACY_MANIFEST: &str = "mlcube.yaml";
/// The manifest of the container layout, at the cube's root.
pub const CONTAINER_MANIFEST: &str = "container_config.yaml";
/// The cube's parameters, in `workspace/`.
pub const PARAMETERS_FILE: &str = "parameters.yaml";
/// Extra files (weights) shipped with the cube, in `workspace/`.
pub const ADDITIONAL_FILES_DIR: &str = "additional_files";
/// Saved container images (`.sif`), in `workspace/`.
pub const IMAGE_DIR: &str = ".image";

/// The two ways MedPerf describes a cube.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `mlcube.yaml` (MLCube, MedPerf until 2025).
    Mlcube,
    /// `container_config.yaml` (MedPerf 2025 on).
    Container,
}

impl Layout {
    /// The manifest's file name, at the cube's root.
    pub fn manifest_file(self) -> &'static str {
        match self {
            Layout::Mlcube => LEGACY_MANIFEST,
            Layout::Container => CONTAINER_MANIFEST,
        }
    }
}

/// What MedPerf uses a cube for; each type requires certain tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CubeType {
    /// Runs inference (`infer`).
    Model,
    /// Scores predictions (`evaluate`).
    Metrics,
    /// Prepares a data set (`prepare`, `sanity_check`, `statistics`).
    DataPreparator,
}

impl std::str::FromStr for CubeType {
    type Err = InputError;

    fn from_str(value: &str) -> Result<Self, InputError> {
        match value {
            "model" => Ok(CubeType::Model),
            "metrics" => Ok(CubeType::Metrics),
            "data-preparator" => Ok(CubeType::DataPreparator),
            other => Err(
                InputError::new(format!("--type {other}: unknown cube type"))
                    .hint("use model, metrics or data-preparator"),
            ),
        }
    }
}

impl CubeType {
    fn label(self) -> &'static str {
        match self {
            CubeType::Model => "model",
            CubeType::Metrics => "metrics",
            CubeType::DataPreparator => "data-preparator",
        }
    }

    /// (task, required inputs, required outputs), from MedPerf's cube templates.
    fn required_tasks(
        self,
    ) -> &'static [(
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    )] {
        match self {
            CubeType::Model => &[("infer", &["data_path"], &["output_path"])],
            CubeType::Metrics => &[("evaluate", &["predictions", "labels"], &["output_path"])],
            CubeType::DataPreparator => &[
                ("prepare", &["data_path", "labels_path"], &["output_path"]),
                ("sanity_check", &["data_path"], &[]),
                ("statistics", &["data_path"], &["output_path"]),
            ],
        }
    }
}

/// A task's declared inputs and outputs: name → path relative to `workspace/`.
#[derive(Debug, Default)]
struct Task {
    inputs: BTreeMap<String, String>,
    outputs: BTreeMap<String, String>,
}

/// A checked MLCube folder.
#[derive(Debug)]
pub struct MlCube {
    /// The cube's folder.
    pub root: PathBuf,
    /// Which manifest it has.
    pub layout: Layout,
    /// The name used for object keys and `medperf … --name`: `--name`, else the folder name.
    pub name: String,
    /// The manifest file.
    pub manifest_path: PathBuf,
    /// `workspace/parameters.yaml`, when present.
    pub parameters_path: Option<PathBuf>,
    /// `workspace/additional_files/`, when present.
    pub additional_files_dir: Option<PathBuf>,
    /// `workspace/.image/`, when present.
    pub image_dir: Option<PathBuf>,
    /// The Docker image the manifest names (`docker.image`, or `image` of a container config).
    pub docker_image: Option<String>,
    /// The checked container settings of a `container_config.yaml` cube.
    pub container: Option<crate::container::Container>,
    /// Checks that failed only as warnings (type inferred, not asked for).
    pub warnings: Vec<String>,
}

impl MlCube {
    /// The `workspace/` folder, where parameters and additional files live.
    pub fn workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }
}

/// Turns a display name into something safe as one URL path segment and a MedPerf name.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches(|c| c == '-' || c == '.');
    if trimmed.is_empty() {
        "mlcube".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Opens and checks the MLCube at `root`. Every problem that would make MedPerf fail later is
/// an `InputError` naming the file and what to do.
pub fn load(
    root: &Path,
    cube_type: Option<CubeType>,
    name: Option<&str>,
) -> Result<MlCube, InputError> {
    let meta = std::fs::metadata(root).map_err(|e| {
        InputError::new(format!(
            "cannot open the MLCube folder {}: {e}",
            root.display()
        ))
        .hint("give the path of the folder that holds mlcube.yaml or container_config.yaml")
    })?;
    if !meta.is_dir() {
        return Err(
            InputError::new(format!("{} is not a folder", root.display()))
                .hint("give the MLCube folder, not a file inside it"),
        );
    }
    let legacy = root.join(LEGACY_MANIFEST);
    let container = root.join(CONTAINER_MANIFEST);
    let layout = match (legacy.exists(), container.exists()) {
        (true, false) => Layout::Mlcube,
        (false, true) => Layout::Container,
        (true, true) => {
            return Err(InputError::new(format!(
                "{} has both {LEGACY_MANIFEST} and {CONTAINER_MANIFEST}",
                root.display()
            ))
            .hint("keep only the one for the MedPerf version you register with"));
        }
        (false, false) => {
            return Err(InputError::new(format!(
                "{} has neither {LEGACY_MANIFEST} nor {CONTAINER_MANIFEST}",
                root.display()
            ))
            .hint(
                "point cubeship at an MLCube folder (the one with the manifest and workspace/)",
            ));
        }
    };
    let manifest_path = root.join(layout.manifest_file());
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        InputError::new(format!("cannot read {}: {e}", manifest_path.display()))
            .hint("check the file's permissions and that it is UTF-8 text")
    })?;
    let document: Value = serde_yaml::from_str(&text).map_err(|e| {
        InputError::new(format!(
            "{} is not valid YAML: {e}",
            manifest_path.display()
        ))
        .hint("fix the syntax (a YAML linter shows the line)")
    })?;
    if !document.is_mapping() {
        return Err(InputError::new(format!(
            "{} does not hold a YAML mapping of settings",
            manifest_path.display()
        ))
        .hint("the manifest must start with keys such as name:, tasks:"));
    }

    let workspace = root.join("workspace");
    let existing_dir = |p: PathBuf| p.is_dir().then_some(p);
    let parameters = workspace.join(PARAMETERS_FILE);
    let mut cube = MlCube {
        root: root.to_path_buf(),
        layout,
        name: slug(
            &name
                .map(str::to_string)
                .unwrap_or_else(|| folder_name(root)),
        ),
        manifest_path: manifest_path.clone(),
        parameters_path: parameters.is_file().then_some(parameters),
        additional_files_dir: existing_dir(workspace.join(ADDITIONAL_FILES_DIR)),
        image_dir: existing_dir(workspace.join(IMAGE_DIR)),
        docker_image: match layout {
            Layout::Mlcube => document.get("docker").and_then(|d| d.get("image")),
            Layout::Container => document.get("image"),
        }
        .and_then(Value::as_str)
        .map(str::to_string),
        container: None,
        warnings: Vec::new(),
    };
    if layout == Layout::Container {
        let container =
            crate::container::check_config(&document, &manifest_path, &mut cube.warnings)?;
        if !container.container_type.is_file() {
            cube.docker_image = Some(container.image.clone());
        } else {
            cube.docker_image = None;
        }
        cube.container = Some(container);
    }

    let tasks = match layout {
        Layout::Mlcube => legacy_tasks(&document, &manifest_path)?,
        Layout::Container => container_tasks(&document, &manifest_path)?,
    };
    // Every problem is reported in one run, each naming its file and fix.
    let mut problems = check_tasks(&mut cube, &tasks, cube_type);
    if layout == Layout::Mlcube {
        problems.extend(check_image_runners(&cube, &document));
    }
    match crate::error::combine(problems) {
        Some(error) => Err(error),
        None => Ok(cube),
    }
}

fn folder_name(root: &Path) -> String {
    root.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "mlcube".to_string())
}

fn input_path(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Mapping(m) => m.get("default").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn path_map(value: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(Value::Mapping(m)) = value {
        for (k, v) in m {
            if let (Some(k), Some(path)) = (k.as_str(), input_path(v)) {
                out.insert(k.to_string(), path);
            }
        }
    }
    out
}

/// `tasks:` present but not a mapping is a wrong type, not a missing section: say so.
fn check_tasks_type(document: &Value, manifest: &Path) -> Result<(), InputError> {
    match document.get("tasks") {
        Some(tasks) if !tasks.is_mapping() => Err(InputError::new(format!(
            "{}: `tasks:` is {}, but must be a mapping of task names",
            manifest.display(),
            yaml_kind(tasks)
        ))
        .hint("write each task as a key under tasks:, e.g. `tasks:\n  infer:\n    parameters: …`")),
        _ => Ok(()),
    }
}

/// What a YAML value is, for messages.
fn yaml_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn legacy_tasks(document: &Value, manifest: &Path) -> Result<BTreeMap<String, Task>, InputError> {
    check_tasks_type(document, manifest)?;
    let Some(tasks) = document.get("tasks").and_then(Value::as_mapping) else {
        return Err(InputError::new(format!("{} has no `tasks:` section", manifest.display()))
            .hint("MedPerf runs the cube's tasks (infer, evaluate, prepare…): declare them under tasks:"));
    };
    let mut out = BTreeMap::new();
    for (name, task) in tasks {
        let Some(name) = name.as_str() else { continue };
        let parameters = task.get("parameters");
        out.insert(
            name.to_string(),
            Task {
                inputs: path_map(parameters.and_then(|p| p.get("inputs"))),
                outputs: path_map(parameters.and_then(|p| p.get("outputs"))),
            },
        );
    }
    Ok(out)
}

fn container_tasks(
    document: &Value,
    manifest: &Path,
) -> Result<BTreeMap<String, Task>, InputError> {
    check_tasks_type(document, manifest)?;
    let Some(tasks) = document.get("tasks").and_then(Value::as_mapping) else {
        return Err(
            InputError::new(format!("{} has no `tasks:` section", manifest.display()))
                .hint("declare the cube's tasks (infer, evaluate, prepare…) under tasks:"),
        );
    };
    // Container volumes are mount points, not workspace paths: record the names only.
    let names = |v: Option<&Value>| -> BTreeMap<String, String> {
        v.and_then(Value::as_mapping)
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str().map(|k| (k.to_string(), String::new())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = BTreeMap::new();
    for (name, task) in tasks {
        let Some(name) = name.as_str() else { continue };
        out.insert(
            name.to_string(),
            Task {
                inputs: names(task.get("input_volumes")),
                outputs: names(task.get("output_volumes")),
            },
        );
    }
    Ok(out)
}

fn infer_type(tasks: &BTreeMap<String, Task>) -> Option<CubeType> {
    if tasks.contains_key("infer") {
        Some(CubeType::Model)
    } else if tasks.contains_key("evaluate") {
        Some(CubeType::Metrics)
    } else if tasks.contains_key("prepare") {
        Some(CubeType::DataPreparator)
    } else {
        None
    }
}

fn type_problems(cube_type: CubeType, tasks: &BTreeMap<String, Task>) -> Vec<String> {
    let mut problems = Vec::new();
    for (task_name, inputs, outputs) in cube_type.required_tasks() {
        let Some(task) = tasks.get(*task_name) else {
            problems.push(format!(
                "a {} cube needs a `{task_name}` task",
                cube_type.label()
            ));
            continue;
        };
        for input in *inputs {
            if !task.inputs.contains_key(*input) {
                problems.push(format!("task `{task_name}` needs an input `{input}`"));
            }
        }
        for output in *outputs {
            if !task.outputs.contains_key(*output) {
                problems.push(format!("task `{task_name}` needs an output `{output}`"));
            }
        }
    }
    problems
}

fn check_tasks(
    cube: &mut MlCube,
    tasks: &BTreeMap<String, Task>,
    cube_type: Option<CubeType>,
) -> Vec<InputError> {
    let mut problems_found = Vec::new();
    let manifest = cube.manifest_path.display().to_string();
    match cube_type {
        Some(t) => {
            let problems = type_problems(t, tasks);
            if !problems.is_empty() {
                problems_found.push(InputError::new(format!(
                    "{manifest} does not describe a MedPerf {} cube: {}",
                    t.label(),
                    problems.join("; ")
                ))
                .hint("add the missing tasks, inputs and outputs, or pick the right --type"));
            }
        }
        None => match infer_type(tasks) {
            Some(t) => {
                for problem in type_problems(t, tasks) {
                    cube.warnings.push(format!("{manifest}: {problem} (looks like a {} cube)", t.label()));
                }
            }
            None => cube.warnings.push(format!(
                "{manifest}: no infer, evaluate or prepare task; MedPerf will not know how to run this cube"
            )),
        },
    }

    let workspace = cube.workspace();
    for (task_name, task) in tasks {
        for (input, value) in &task.inputs {
            if input == "parameters_file" {
                if cube.layout == Layout::Mlcube && value != PARAMETERS_FILE {
                    problems_found.push(InputError::new(format!(
                        "{manifest}: task `{task_name}` names its parameters_file `{value}`"
                    ))
                    .hint("MedPerf only hosts workspace/parameters.yaml: rename the file and the input to parameters.yaml"));
                }
                if cube.parameters_path.is_none() {
                    problems_found.push(InputError::new(format!(
                        "{manifest}: task `{task_name}` takes a parameters_file but {} is missing",
                        workspace.join(PARAMETERS_FILE).display()
                    ))
                    .hint(
                        "create workspace/parameters.yaml (it may be empty) or remove the input",
                    ));
                }
            }
            let relative = value.trim_start_matches("./");
            if cube.layout == Layout::Mlcube
                && let Some(inside) = relative.strip_prefix("additional_files/")
                && !inside.is_empty()
            {
                let target = workspace.join(relative);
                if !target.exists() {
                    problems_found.push(InputError::new(format!(
                        "{manifest}: task `{task_name}` input `{input}` points to {}, which does not exist",
                        target.display()
                    ))
                    .hint("put the file in workspace/additional_files/ (it is published in additional_files.tar.gz) or fix the path"));
                }
            }
        }
    }
    problems_found
}

fn check_image_runners(cube: &MlCube, document: &Value) -> Vec<InputError> {
    let mut problems_found = Vec::new();
    let manifest = cube.manifest_path.display();
    let image_of = |runner: &str| {
        document
            .get(runner)
            .and_then(|r| r.get("image"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let docker = image_of("docker");
    let singularity = image_of("singularity");
    if docker.is_some() && singularity.is_some() {
        problems_found.push(
            InputError::new(format!(
                "{manifest} names an image for both docker and singularity"
            ))
            .hint("MedPerf hosts one image per cube: keep the image in one runner section only"),
        );
    }
    if let Some(sif) = singularity {
        let in_image_dir = cube.workspace().join(IMAGE_DIR).join(&sif);
        if !in_image_dir.is_file() {
            problems_found.push(
                InputError::new(format!(
                    "{manifest}: singularity image `{sif}` is not in {}",
                    cube.workspace().join(IMAGE_DIR).display()
                ))
                .hint("build or copy the image file into workspace/.image/ before packaging"),
            );
        }
    }
    problems_found
}
