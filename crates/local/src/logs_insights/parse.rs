//! The text of a query as commands and expressions. What is not in the subset is an error naming it, never
//! skipped: a query that parses here runs here as CloudWatch runs it.

use regex::Regex;

use crate::LocalError;

/// One command of the pipeline, in the order the query gives them.
#[derive(Debug, Clone)]
pub enum Command {
    /// `fields a, f(b) as c`: computes each, and shows them.
    Fields(Vec<Projection>),
    /// `display a, b`: shows exactly these.
    Display(Vec<String>),
    /// `filter <condition>`.
    Filter(Expr),
    /// `stats agg(x) [as name], … [by expr [as name], …]`.
    Stats { aggregates: Vec<(Aggregate, String)>, by: Vec<Projection> },
    /// `sort a [asc|desc], …` (descending when not said).
    Sort(Vec<(String, bool)>),
    /// `limit N`.
    Limit(usize),
}

/// An expression with the name of the field it makes.
#[derive(Debug, Clone)]
pub struct Projection {
    pub expr: Expr,
    pub name: String,
}

#[derive(Debug, Clone)]
pub enum Expr {
    Field(String),
    Str(String),
    Num(f64),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Box<Expr>, Comparison, Box<Expr>),
    /// `x like /re/`, `x =~ /re/`, `x like "text"` (contains); `not like` negates.
    Like {
        expr: Box<Expr>,
        pattern: Pattern,
        negated: bool,
    },
    /// `x in ["a", "b"]`, `x not in […]`.
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Call {
        function: Function,
        args: Vec<Expr>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
pub enum Pattern {
    Regex(Regex),
    Contains(String),
}

/// The functions of a field expression this reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Coalesce,
    IsPresent,
    IsEmpty,
    IsBlank,
    ToLower,
    ToUpper,
    StrLen,
}

/// An aggregate of `stats`.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub function: AggregateFunction,
    /// `None` for `count(*)`.
    pub arg: Option<Expr>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggregateFunction {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    /// `pct(x, 90)`.
    Pct(f64),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    /// A `backtick`-quoted field name.
    Quoted(String),
    Str(String),
    Num(f64),
    Regex(String),
    Punct(&'static str),
}

fn error(message: impl Into<String>) -> LocalError {
    LocalError::LogsInsights(message.into())
}

/// The query's commands. `#` starts a comment to the end of the line.
pub fn parse(text: &str) -> Result<Vec<Command>, LocalError> {
    let tokens = tokenize(text)?;
    let mut commands = Vec::new();
    for part in tokens.split(|t| *t == Token::Punct("|")) {
        if part.is_empty() {
            return Err(error("an empty command (two `|` in a row, or one at an end)"));
        }
        let mut parser = Parser { tokens: part, at: 0 };
        commands.push(parser.command()?);
        if let Some(rest) = parser.tokens.get(parser.at) {
            return Err(error(format!("unexpected {rest:?} after a complete command")));
        }
    }
    if commands.is_empty() {
        return Err(error("no command"));
    }
    Ok(commands)
}

fn tokenize(text: &str) -> Result<Vec<Token>, LocalError> {
    const PUNCT: [&str; 14] = ["!=", "<=", ">=", "=~", "|", ",", "(", ")", "[", "]", "=", "<", ">", "*"];
    let mut tokens = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c == '#' {
            rest = rest.find('\n').map_or("", |n| &rest[n..]);
        } else if c == '"' || c == '\'' || c == '`' || c == '/' {
            let (body, after) = quoted(rest, c)?;
            tokens.push(match c {
                '`' => Token::Quoted(body),
                '/' => Token::Regex(body),
                _ => Token::Str(body),
            });
            rest = after;
        } else if let Some(p) = PUNCT.iter().find(|p| rest.starts_with(**p)) {
            tokens.push(Token::Punct(p));
            rest = &rest[p.len()..];
        } else if c.is_ascii_digit() || (c == '-' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) {
            let end = rest[1..].find(|d: char| !(d.is_ascii_digit() || d == '.')).map_or(rest.len(), |e| e + 1);
            tokens.push(Token::Num(rest[..end].parse().map_err(|_| error(format!("a bad number {}", &rest[..end])))?));
            rest = &rest[end..];
        } else if c.is_alphabetic() || c == '_' || c == '@' {
            let end = rest.find(|w: char| !(w.is_alphanumeric() || matches!(w, '_' | '.' | '@'))).unwrap_or(rest.len());
            tokens.push(Token::Word(rest[..end].to_string()));
            rest = &rest[end..];
        } else {
            return Err(error(format!("unexpected {c:?} (arithmetic and this operator are not read here)")));
        }
    }
    Ok(tokens)
}

/// The body of a quoted token opened by `quote` at the start of `text` (a backslash escapes the next
/// character; in a regular expression it is kept), and the text after it.
fn quoted(text: &str, quote: char) -> Result<(String, &str), LocalError> {
    let mut body = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            let (_, next) = chars.next().ok_or_else(|| error("a backslash at the end of the query"))?;
            if quote == '/' && next != '/' {
                body.push('\\');
            }
            body.push(next);
        } else if c == quote {
            return Ok((body, &text[i + 1..]));
        } else {
            body.push(c);
        }
    }
    Err(error(format!("{quote} opened and never closed")))
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    /// Whether the next token is the keyword `word` (any case); consumed if it is.
    fn keyword(&mut self, word: &str) -> bool {
        let is = matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word));
        self.at += usize::from(is);
        is
    }

    fn punct(&mut self, p: &str) -> bool {
        let is = matches!(self.peek(), Some(Token::Punct(q)) if *q == p);
        self.at += usize::from(is);
        is
    }

    fn expect(&mut self, p: &str) -> Result<(), LocalError> {
        if self.punct(p) {
            Ok(())
        } else {
            Err(error(format!("expected `{p}`, found {:?}", self.peek())))
        }
    }

    fn command(&mut self) -> Result<Command, LocalError> {
        let Some(Token::Word(name)) = self.next() else {
            return Err(error(format!("a command must start with its name, not {:?}", self.tokens[0])));
        };
        Ok(match name.to_ascii_lowercase().as_str() {
            "fields" => Command::Fields(self.list(Parser::projection)?),
            "display" => Command::Display(self.list(Parser::field_name)?),
            "filter" => Command::Filter(self.expr()?),
            "stats" => self.stats()?,
            "sort" => Command::Sort(self.list(|p| {
                let field = p.field_name()?;
                // Descending unless `asc` is said.
                let ascending = p.keyword("asc");
                if !ascending {
                    p.keyword("desc");
                }
                Ok((field, !ascending))
            })?),
            "limit" => match self.next() {
                Some(Token::Num(n)) if n >= 1.0 && n.fract() == 0.0 => Command::Limit(n as usize),
                other => return Err(error(format!("limit takes a whole number, not {other:?}"))),
            },
            other => return Err(error(format!("the command `{other}` is not read here"))),
        })
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T, LocalError>) -> Result<Vec<T>, LocalError> {
        let mut items = vec![item(self)?];
        while self.punct(",") {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn field_name(&mut self) -> Result<String, LocalError> {
        match self.next() {
            Some(Token::Word(w) | Token::Quoted(w)) => Ok(w),
            other => Err(error(format!("expected a field name, found {other:?}"))),
        }
    }

    /// `expr [as name]`; without a name, a field keeps its own and anything else is named by its text.
    fn projection(&mut self) -> Result<Projection, LocalError> {
        let start = self.at;
        let expr = self.expr()?;
        let name = if self.keyword("as") {
            self.field_name()?
        } else if let Expr::Field(f) = &expr {
            f.clone()
        } else {
            describe(&self.tokens[start..self.at])
        };
        Ok(Projection { expr, name })
    }

    fn stats(&mut self) -> Result<Command, LocalError> {
        let aggregates = self.list(|p| {
            let start = p.at;
            let aggregate = p.aggregate()?;
            let name = if p.keyword("as") { p.field_name()? } else { describe(&p.tokens[start..p.at]) };
            Ok((aggregate, name))
        })?;
        let by = if self.keyword("by") { self.list(Parser::projection)? } else { Vec::new() };
        Ok(Command::Stats { aggregates, by })
    }

    fn aggregate(&mut self) -> Result<Aggregate, LocalError> {
        let name = self.field_name()?;
        self.expect("(")?;
        let mut function = match name.to_ascii_lowercase().as_str() {
            "count" if self.punct("*") => {
                self.expect(")")?;
                return Ok(Aggregate { function: AggregateFunction::Count, arg: None });
            }
            "count" => AggregateFunction::Count,
            "count_distinct" => AggregateFunction::CountDistinct,
            "sum" => AggregateFunction::Sum,
            "avg" => AggregateFunction::Avg,
            "min" => AggregateFunction::Min,
            "max" => AggregateFunction::Max,
            // The percentile follows the field.
            "pct" | "percentile" => AggregateFunction::Pct(0.0),
            other => return Err(error(format!("the aggregate `{other}` is not read here"))),
        };
        let arg = self.expr()?;
        if let AggregateFunction::Pct(percentile) = &mut function {
            self.expect(",")?;
            *percentile = match self.next() {
                Some(Token::Num(p)) if (0.0..=100.0).contains(&p) => p,
                other => return Err(error(format!("pct takes a percentile from 0 to 100, not {other:?}"))),
            };
        }
        self.expect(")")?;
        Ok(Aggregate { function, arg: Some(arg) })
    }

    fn expr(&mut self) -> Result<Expr, LocalError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, LocalError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, LocalError> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, LocalError> {
        let left = self.operand()?;
        let negated = self.keyword("not");
        if self.keyword("like") || (!negated && self.punct("=~")) {
            let pattern = match self.next() {
                Some(Token::Regex(r)) => {
                    Pattern::Regex(Regex::new(&r).map_err(|e| error(format!("the regular expression /{r}/: {e}")))?)
                }
                Some(Token::Str(s)) => Pattern::Contains(s),
                other => return Err(error(format!("like takes /a regular expression/ or \"text\", not {other:?}"))),
            };
            return Ok(Expr::Like { expr: Box::new(left), pattern, negated });
        }
        if self.keyword("in") {
            self.expect("[")?;
            let list = self.list(Parser::operand)?;
            self.expect("]")?;
            return Ok(Expr::In { expr: Box::new(left), list, negated });
        }
        if negated {
            return Err(error("`not` after a value must be followed by like or in"));
        }
        let comparison = match self.peek() {
            Some(Token::Punct("=")) => Comparison::Eq,
            Some(Token::Punct("!=")) => Comparison::Ne,
            Some(Token::Punct("<")) => Comparison::Lt,
            Some(Token::Punct("<=")) => Comparison::Le,
            Some(Token::Punct(">")) => Comparison::Gt,
            Some(Token::Punct(">=")) => Comparison::Ge,
            _ => return Ok(left),
        };
        self.at += 1;
        Ok(Expr::Compare(Box::new(left), comparison, Box::new(self.operand()?)))
    }

    fn operand(&mut self) -> Result<Expr, LocalError> {
        match self.next() {
            Some(Token::Punct("(")) => {
                let inner = self.expr()?;
                self.expect(")")?;
                Ok(inner)
            }
            Some(Token::Str(s)) => Ok(Expr::Str(s)),
            Some(Token::Num(n)) => Ok(Expr::Num(n)),
            Some(Token::Quoted(f)) => Ok(Expr::Field(f)),
            Some(Token::Word(w)) if self.punct("(") => {
                let function = match w.to_ascii_lowercase().as_str() {
                    "coalesce" => Function::Coalesce,
                    "ispresent" => Function::IsPresent,
                    "isempty" => Function::IsEmpty,
                    "isblank" => Function::IsBlank,
                    "tolower" => Function::ToLower,
                    "toupper" => Function::ToUpper,
                    "strlen" => Function::StrLen,
                    other => return Err(error(format!("the function `{other}` is not read here"))),
                };
                let args = if self.punct(")") {
                    Vec::new()
                } else {
                    let args = self.list(Parser::expr)?;
                    self.expect(")")?;
                    args
                };
                let arity_ok = match function {
                    Function::Coalesce => !args.is_empty(),
                    _ => args.len() == 1,
                };
                if !arity_ok {
                    return Err(error(format!("`{w}` given {} arguments", args.len())));
                }
                Ok(Expr::Call { function, args })
            }
            Some(Token::Word(w)) => Ok(Expr::Field(w)),
            other => Err(error(format!("expected a value, found {other:?}"))),
        }
    }
}

/// The text of `tokens` as a column name (`count(*)`, `coalesce(a,"b")`).
fn describe(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| match t {
            Token::Word(w) => w.clone(),
            Token::Quoted(w) => format!("`{w}`"),
            Token::Str(s) => format!("\"{s}\""),
            Token::Num(n) => n.to_string(),
            Token::Regex(r) => format!("/{r}/"),
            Token::Punct(p) => p.to_string(),
        })
        .collect()
}
