//! The forms of one category — `data/{name}.json`, its CSV copy and the
//! viewer's `data/js/{name}.js` — made in one reading of its staged JSON
//! Lines: each record is read once, parsed at most once, and written in
//! every form, each into its own sink (an entry being deflated, or a file
//! set aside for a split archive).

use std::borrow::Cow;
use std::io::{self, BufRead, BufWriter, Write};
use std::sync::Arc;

use serde_json::Value;

use super::Rewrite;
use crate::connector::Column;
use crate::export::csv;
use crate::fsx::Stop;
use crate::viewer::{self, JsStatements};

/// Each form's output is handed to its sink in pieces of this size: a
/// record at a time would give the compressor a few hundred bytes a call.
const PIECE: usize = 64 << 10;

/// One form of a category.
#[derive(Clone)]
pub(super) enum Form {
    /// The records as a JSON array, each as [`Rewrite`] archives it.
    Json,
    /// A CSV row per record, in this layout.
    Csv(csv::Layout),
    /// The viewer's data file: the JSON form's records, in statements.
    Viewer,
}

/// The forms of one category to make, each with its path under `data/`.
#[derive(Clone)]
pub(super) struct Forms {
    pub name: String,
    pub rewrite: Arc<Rewrite>,
    pub forms: Vec<(String, Form)>,
}

impl Forms {
    /// The paths of the forms, in order.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.forms.iter().map(|(path, _)| path.as_str())
    }

    /// Reads the records in `lines` once and writes each form into its
    /// sink (`sinks[i]` for `forms[i]`).
    /// A failure says which side failed: reading or parsing the records,
    /// or writing a form.
    pub fn write<W: Write>(
        &self,
        lines: &mut dyn BufRead,
        sinks: Vec<W>,
    ) -> Result<Vec<W>, Stop<io::Error>> {
        let mut outs: Vec<Out<W>> = self
            .forms
            .iter()
            .zip(sinks)
            .map(|((_, form), sink)| Out {
                form: form.clone(),
                sink: BufWriter::with_capacity(PIECE, sink),
                state: match form {
                    Form::Viewer => State::Viewer(JsStatements::new(&self.name)),
                    _ => State::Records(0),
                },
            })
            .collect();
        for out in &mut outs {
            out.begin().map_err(Stop::Sink)?;
        }
        // Parsed once, when a form needs the value: the CSV's cells, or a
        // record the archive changes (see `Rewrite`).
        let parse = self.rewrite.reencodes() || outs.iter().any(|o| matches!(o.form, Form::Csv(_)));
        let (mut line, mut archived, mut piece, mut row) =
            (String::new(), Vec::new(), Vec::new(), String::new());
        loop {
            line.clear();
            if lines.read_line(&mut line).map_err(Stop::Read)? == 0 {
                break;
            }
            let text = line.trim_end();
            if text.is_empty() {
                continue;
            }
            // A lone surrogate is kept as sent in the JSON (where the
            // record is archived as staged) and is U+FFFD in the CSV and
            // the viewer, which show text.
            let lossy = crate::json_text::lossy(text);
            let value: Option<Value> = if parse {
                Some(serde_json::from_str(&lossy).map_err(|e| Stop::Read(io::Error::other(e)))?)
            } else {
                None
            };
            for out in &mut outs {
                if let (Form::Csv(layout), Some(v)) = (&out.form, &value) {
                    row.clear();
                    layout.push_row(&mut row, v);
                    out.sink.write_all(row.as_bytes()).map_err(Stop::Sink)?;
                }
            }
            archived.clear();
            let reencoded = match value {
                Some(v) if self.rewrite.reencodes() => {
                    self.rewrite.value(v, &mut archived).map_err(Stop::Read)?;
                    true
                }
                _ => false,
            };
            for out in &mut outs {
                match (&out.form, &mut out.state) {
                    (Form::Json, State::Records(n)) => {
                        out.sink
                            .write_all(if *n == 0 { b"\n" as &[u8] } else { b",\n" })
                            .map_err(Stop::Sink)?;
                        *n += 1;
                        let record = if reencoded {
                            &archived
                        } else {
                            text.as_bytes()
                        };
                        out.sink.write_all(record).map_err(Stop::Sink)?;
                    }
                    (Form::Viewer, State::Viewer(statements)) => {
                        piece.clear();
                        let record = if reencoded {
                            &archived
                        } else {
                            lossy.as_bytes()
                        };
                        statements.record(record, &mut piece);
                        out.sink.write_all(&piece).map_err(Stop::Sink)?;
                    }
                    _ => {}
                }
            }
        }
        outs.into_iter()
            .map(|o| o.end().map_err(Stop::Sink))
            .collect()
    }
}

/// One form being written.
struct Out<W: Write> {
    form: Form,
    sink: BufWriter<W>,
    state: State,
}

enum State {
    /// Records written so far.
    Records(u64),
    Viewer(JsStatements),
}

impl<W: Write> Out<W> {
    fn begin(&mut self) -> io::Result<()> {
        match &self.form {
            Form::Json => self.sink.write_all(b"["),
            Form::Csv(layout) => self.sink.write_all(layout.header().as_bytes()),
            Form::Viewer => Ok(()),
        }
    }

    fn end(mut self) -> io::Result<W> {
        match (&self.form, &mut self.state) {
            (Form::Json, State::Records(n)) => {
                self.sink
                    .write_all(if *n == 0 { b"]\n" as &[u8] } else { b"\n]\n" })?
            }
            (Form::Viewer, State::Viewer(statements)) => {
                let mut piece = Vec::new();
                statements.end(&mut piece);
                self.sink.write_all(&piece)?;
            }
            _ => {}
        }
        self.sink
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }
}

/// The forms `formats` asks for of category `name`, with its CSV columns.
pub(super) fn forms_of(
    name: &str,
    csv_columns: Cow<'static, [Column]>,
    rewrite: Arc<Rewrite>,
    formats: super::Formats,
) -> Forms {
    let mut forms = vec![(format!("{name}.json"), Form::Json)];
    if formats.csv && !csv_columns.is_empty() {
        forms.push((
            format!("{name}.csv"),
            Form::Csv(csv::Layout::new(csv_columns)),
        ));
    }
    if formats.viewer {
        forms.push((viewer::data_file(name), Form::Viewer));
    }
    Forms {
        name: name.to_owned(),
        rewrite,
        forms,
    }
}
