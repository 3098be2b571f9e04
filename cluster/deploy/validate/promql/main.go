// Command promql parses every query of a Grafana dashboard with Prometheus's own PromQL
// parser and prints, as one JSON array, the metrics each query names and the label names
// it relies on (grouping clauses, vector matching, selector matchers), each with the
// metrics it applies to; an unparsable query is an error (exit status 1). Grafana's range variables ($__rate_interval and the
// like) are replaced by a range first, as Grafana does before Prometheus sees a query.
//
// Usage: promql DASHBOARD.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// Grafana replaces these in a query before Prometheus sees it; a range stands in for them.
var grafanaRanges = strings.NewReplacer(
	"$__rate_interval", "5m",
	"${__rate_interval}", "5m",
	"$__interval", "1m",
	"${__interval}", "1m",
	"$__range", "1h",
	"${__range}", "1h",
)

type dashboard struct {
	Panels []panel `json:"panels"`
}

type panel struct {
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"` // a collapsed row keeps its panels inside
}

type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

// query is what is printed for each query: where it is, the metrics its selectors
// name and the labels it uses, as Prometheus's own PromQL parser reads them.
type query struct {
	Panel   string     `json:"panel"`
	RefID   string     `json:"refId"`
	Metrics []string   `json:"metrics"`
	Labels  []labelUse `json:"labels"`
}

// labelUse is one clause that names labels, and the metrics of the expression it applies
// to: "by (l)" and "without (l)" of an aggregation, "on (l)" and "ignoring (l)" of a
// binary operation (once per side), a selector's matchers ("{l=...}").
type labelUse struct {
	Clause  string   `json:"clause"`
	Labels  []string `json:"labels"`
	Metrics []string `json:"metrics"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: promql DASHBOARD.json")
		os.Exit(2)
	}
	if err := validateDashboard(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// validateDashboard parses every query of the dashboard and prints them as one JSON array.
func validateDashboard(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var board dashboard
	if err := json.Unmarshal(data, &board); err != nil {
		return fmt.Errorf("%s: not a dashboard: %w", path, err)
	}
	promql := parser.NewParser(parser.Options{})
	queries := []query{}
	var faults []string
	for _, p := range flatten(board.Panels) {
		for _, t := range p.Targets {
			expr, err := promql.ParseExpr(grafanaRanges.Replace(t.Expr))
			if err != nil {
				faults = append(faults, fmt.Sprintf("panel %q query %s: %v", p.Title, t.RefID, err))
				continue
			}
			queries = append(queries, query{p.Title, t.RefID, metricsOf(expr), labelsOf(expr)})
		}
	}
	if len(faults) > 0 {
		return fmt.Errorf("%s: %s", path, strings.Join(faults, "; "))
	}
	out, err := json.Marshal(queries)
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

func flatten(panels []panel) []panel {
	var all []panel
	for _, p := range panels {
		all = append(all, p)
		all = append(all, flatten(p.Panels)...)
	}
	return all
}

// metricsOf returns the metric names the expression's selectors name, sorted, once each.
func metricsOf(expr parser.Expr) []string {
	seen := map[string]bool{}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if selector, ok := node.(*parser.VectorSelector); ok && selector.Name != "" {
			seen[selector.Name] = true
		}
		return nil
	})
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// labelsOf returns every clause of the expression that names labels, outermost first.
func labelsOf(expr parser.Expr) []labelUse {
	uses := []labelUse{}
	add := func(clause string, labels []string, of parser.Expr) {
		if len(labels) > 0 {
			uses = append(uses, labelUse{clause, labels, metricsOf(of)})
		}
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.AggregateExpr:
			clause := "by"
			if n.Without {
				clause = "without"
			}
			add(clause, n.Grouping, n.Expr)
		case *parser.BinaryExpr:
			if m := n.VectorMatching; m != nil {
				clause := "ignoring"
				if m.On {
					clause = "on"
				}
				add(clause, m.MatchingLabels, n.LHS)
				add(clause, m.MatchingLabels, n.RHS)
			}
		case *parser.VectorSelector:
			var names []string
			for _, matcher := range n.LabelMatchers {
				if matcher.Name != "__name__" {
					names = append(names, matcher.Name)
				}
			}
			add("matcher", names, n)
		}
		return nil
	})
	return uses
}
