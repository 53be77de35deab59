// Runs examples/silenceper-wechat/wxtoken_handle.go with the silenceper/wechat
// stand-in (standin/), against a real wxtoken (gRPC) and WeChat (the fake one,
// reached through util.SetURIModifier), as the recipe's usage does:
// GetCallbackIP through Handle.Call, which retries once after a stale token.
//
// Environment: WXTOKEN_ADDR, WXTOKEN_APP_ID, WECHAT_API_BASE (ending in /cgi-bin/);
// RECIPE_CALLERS=2: two goroutines make the call at once through one handle.
// Prints one JSON line. Exit 0: the call succeeded; 3: WeChat's error; else 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"example.com/you/wxtokenhandle"
	"github.com/silenceper/wechat/v2/officialaccount"
	"github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/util"
	"google.golang.org/grpc"
)

func main() {
	appID := os.Getenv("WXTOKEN_APP_ID")
	wechat := strings.TrimSuffix(os.Getenv("WECHAT_API_BASE"), "/cgi-bin/")
	util.SetURIModifier(func(uri string) string { return strings.Replace(uri, "https://api.weixin.qq.com", wechat, 1) })

	conn, err := grpc.Dial(os.Getenv("WXTOKEN_ADDR"), grpc.WithInsecure()) // Debian's grpc-go 1.33 has no credentials/insecure
	if err != nil {
		fail(1, 0, err)
	}
	defer conn.Close()
	h := wxtokenhandle.New(conn, appID)
	oa := officialaccount.NewOfficialAccount(&config.Config{AppID: appID})
	oa.SetAccessTokenHandle(h)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	callers := 1
	if os.Getenv("RECIPE_CALLERS") == "2" {
		callers = 2
	}
	// With two callers, each one's first GetCallbackIP waits for the other's
	// before returning: both carry the same token, and one reports it after
	// the other's report has already replaced it in the handle.
	var firstTries sync.WaitGroup
	firstTries.Add(callers)
	ips := make([][]string, callers)
	errs := make([]error, callers)
	var done sync.WaitGroup
	for i := 0; i < callers; i++ {
		done.Add(1)
		go func(i int) {
			defer done.Done()
			tries := 0
			errs[i] = h.Call(ctx, func() (err error) {
				ips[i], err = oa.GetBasic().GetCallbackIP()
				if tries++; tries == 1 {
					firstTries.Done()
					firstTries.Wait()
				}
				return err
			})
		}(i)
	}
	done.Wait()
	for _, err = range errs {
		if err != nil {
			break
		}
	}
	var wxErr *util.CommonError
	if errors.As(err, &wxErr) {
		fail(3, wxErr.ErrCode, err)
	} else if err != nil {
		fail(1, 0, err)
	}
	out, _ := json.Marshal(map[string]any{"ok": true, "ips": len(ips[0]), "callers": callers})
	fmt.Println(string(out))
}

func fail(code int, errcode int64, err error) {
	out, _ := json.Marshal(map[string]any{"ok": false, "errcode": errcode, "error": err.Error()})
	fmt.Println(string(out))
	os.Exit(code)
}
