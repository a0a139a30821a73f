//! `{{ name }}` templates, as Spin writes them in `allowed_outbound_hosts` and component
//! `variables`: the one parser every use of them goes through.

/// A template had a `{{` without its `}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated `{{{{` (expected `}}}}`)")]
pub struct Unterminated;

/// One piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    /// Text kept as it is.
    Text(&'a str),
    /// A `{{ name }}` reference (the name trimmed).
    Variable(&'a str),
}

/// Splits `template` into text and variable references.
pub fn parts(template: &str) -> Result<Vec<Part<'_>>, Unterminated> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Part::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(Unterminated)?;
        out.push(Part::Variable(after[..end].trim()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    Ok(out)
}

/// The names `template` refers to, in order.
pub fn names(template: &str) -> Result<Vec<&str>, Unterminated> {
    Ok(parts(template)?
        .into_iter()
        .filter_map(|p| match p {
            Part::Variable(name) => Some(name),
            Part::Text(_) => None,
        })
        .collect())
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError<E> {
    /// A `{{` without its `}}`.
    Unterminated,
    /// `resolve` failed for this name.
    Variable(E),
}

/// Fills every reference of `template` with `resolve(name)`.
pub fn render<E>(
    template: &str,
    mut resolve: impl FnMut(&str) -> Result<String, E>,
) -> Result<String, RenderError<E>> {
    let mut out = String::with_capacity(template.len());
    for part in parts(template).map_err(|Unterminated| RenderError::Unterminated)? {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Variable(name) => out.push_str(&resolve(name).map_err(RenderError::Variable)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_names_and_rendering() {
        assert_eq!(
            parts("https://{{ host }}:{{port}}/x").unwrap(),
            vec![
                Part::Text("https://"),
                Part::Variable("host"),
                Part::Text(":"),
                Part::Variable("port"),
                Part::Text("/x"),
            ]
        );
        assert_eq!(names("{{a}}{{ b }}").unwrap(), vec!["a", "b"]);
        assert_eq!(names("plain").unwrap(), Vec::<&str>::new());
        assert_eq!(parts("{{ oops"), Err(Unterminated));
        let value = |n: &str| match n {
            "host" => Ok("h".to_string()),
            other => Err(other.to_string()),
        };
        assert_eq!(render("a{{ host }}b", value).unwrap(), "ahb");
        assert_eq!(
            render("{{ nope }}", value),
            Err(RenderError::Variable("nope".to_string()))
        );
        assert_eq!(render("{{ host", value), Err(RenderError::Unterminated));
        assert_eq!(
            Unterminated.to_string(),
            "unterminated `{{` (expected `}}`)"
        );
    }
}
