package template

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/eks-canary/platform/lambdas/contract"
	"github.com/eks-canary/platform/lambdas/spec"
)

// checkValues validates the values before they are written into YAML, and
// returns the routes as list items.
func checkValues(v Values) ([]any, error) {
	var errs []string
	if err := spec.CheckNamespace(v.Namespace); err != nil {
		errs = append(errs, err.Error())
	}
	if err := spec.CheckMicroservice(v.Microservice); err != nil {
		errs = append(errs, err.Error())
	}
	if err := spec.CheckImage(v.Image); err != nil {
		errs = append(errs, err.Error())
	}
	if v.Version < 1 {
		errs = append(errs, fmt.Sprintf("version %d is not allowed: versions start at 1", v.Version))
	}
	if v.ServiceDomain != "" {
		if msgs := validation.IsDNS1123Subdomain(v.ServiceDomain); len(msgs) > 0 {
			errs = append(errs, fmt.Sprintf("service domain %q is not a DNS name: %s", v.ServiceDomain, strings.Join(msgs, "; ")))
		}
	}
	routes, err := checkRoutes(v.Routes)
	if err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("render template: %s", strings.Join(errs, "; "))
	}
	return routes, nil
}

var placeholder = regexp.MustCompile(`\$\{([^}\n]*)\}`)

// placeholders in the order messages list them.
var placeholders = []string{PlaceholderNamespace, PlaceholderMicroservice, PlaceholderImage, PlaceholderVersion, PlaceholderRoutes, PlaceholderDomain}

func knownPlaceholders() string {
	quoted := make([]string, len(placeholders))
	for i, p := range placeholders {
		quoted[i] = "${" + p + "}"
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

func checkPlaceholders(tmpl []byte, v Values) []Problem {
	var problems []Problem
	for i, line := range bytes.Split(tmpl, []byte("\n")) {
		for _, m := range placeholder.FindAllSubmatch(line, -1) {
			if name := string(m[1]); !slices.Contains(placeholders, name) {
				problems = append(problems, Problem{Line: i + 1, Message: fmt.Sprintf(
					"unknown placeholder ${%s}: use %s; for a container variable write $(%s)", name, knownPlaceholders(), name)})
			} else if name == PlaceholderDomain && v.ServiceDomain == "" {
				problems = append(problems, Problem{Line: i + 1, Message: fmt.Sprintf(
					"${%s} has no value: the engine runs without a service domain; set %s (the environment program sets it on the engine Lambda) or pass canary-run --service-domain",
					PlaceholderDomain, contract.EnvServiceDomain)})
			}
		}
		rest := placeholder.ReplaceAll(line, nil)
		if bytes.Contains(rest, []byte("${")) {
			problems = append(problems, Problem{Line: i + 1, Message: "unterminated placeholder: \"${\" without a closing \"}\""})
		}
	}
	return problems
}

// substitute replaces every placeholder, ${CANARY_ROUTES} by the sentinel
// that splice replaces once the YAML is parsed. Replacement text is not
// scanned again, so a value can never introduce a placeholder.
func substitute(tmpl []byte, v Values) []byte {
	values := map[string]string{
		PlaceholderNamespace:    v.Namespace,
		PlaceholderMicroservice: v.Microservice,
		PlaceholderImage:        v.Image,
		PlaceholderVersion:      strconv.Itoa(v.Version),
		PlaceholderRoutes:       routesSentinel,
		PlaceholderDomain:       v.ServiceDomain,
	}
	return placeholder.ReplaceAllFunc(tmpl, func(m []byte) []byte {
		return []byte(values[string(m[2:len(m)-1])])
	})
}
