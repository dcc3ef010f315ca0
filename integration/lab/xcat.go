package lab

import "context"

func (l *Lab) installXCAT(ctx context.Context) error {
	if !l.RealXCAT {
		return nil
	}
	return nil
}
