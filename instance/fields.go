package instance

import "fmt"

// FieldError says what is wrong with one field. Code is a stable key a message catalog
// translates ("field." + Code), with Args as its arguments; English is the text with
// which Args are formatted when there is no catalog (the API, logs).
type FieldError struct {
	Code    string
	English string
	Args    []any
}

// String is the English text.
func (f FieldError) String() string {
	if len(f.Args) == 0 {
		return f.English
	}
	return fmt.Sprintf(f.English, f.Args...)
}

// Key is the message catalog's key of f's text.
func (f FieldError) Key() string { return "field." + f.Code }

// Translator renders a catalog key with its arguments; ok is false when it has no text
// for the key (then the English text is used).
type Translator func(key string, args ...any) (text string, ok bool)

// Fields collects what is wrong with each field of some input, by field name.
type Fields map[string]FieldError

// Add records a problem with field: code is the stable key, english the text with
// args; a field keeps its first problem.
func (f Fields) Add(field, code, english string, args ...any) {
	if _, ok := f[field]; !ok {
		f[field] = FieldError{Code: code, English: english, Args: args}
	}
}

// Err returns an Invalid *Error carrying f, or nil if f is empty.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Fields: f}
}

// Messages renders every field's problem with tr, in English where tr is nil or has no
// text for a key.
func (f Fields) Messages(tr Translator) map[string]string {
	m := make(map[string]string, len(f))
	for field, fe := range f {
		if tr != nil {
			if s, ok := tr(fe.Key(), fe.Args...); ok {
				m[field] = s
				continue
			}
		}
		m[field] = fe.String()
	}
	return m
}

// InvalidField returns an Invalid *Error for one field.
func InvalidField(field, code, english string, args ...any) error {
	return Fields{field: FieldError{Code: code, English: english, Args: args}}.Err()
}

// FieldErrors returns the field problems of err's *Error, and whether it has any.
func FieldErrors(err error) (Fields, bool) {
	e, ok := AsError(err)
	if !ok || len(e.Fields) == 0 {
		return nil, false
	}
	return e.Fields, true
}
